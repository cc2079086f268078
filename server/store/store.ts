/**
 * The storage contract. SQLite (default) and PostgreSQL implement it through
 * one Kysely implementation; a shared contract test suite runs against both.
 */
import type { DuetError } from '../../shared/errors.js';
import type { Language } from '../../shared/languages.js';
import type { Actor, EventType, Interview } from '../../shared/protocol.js';
import type { DocName, InviteRole } from '../../shared/roles.js';

export interface NewEvent {
  type: EventType;
  at: string;
  actor: Actor;
  /** JSON-serialisable details (chat text, language, ...). */
  data: Record<string, unknown>;
  /** For `doc` events: which document, and the Yjs update. */
  doc?: DocName;
  bin?: Uint8Array;
}

export interface StoredEvent extends NewEvent {
  seq: number;
}

export interface InterviewPatch {
  language?: Language;
  status?: 'ended';
  endedAt?: string;
}

export interface AppendOptions {
  /** Refuse (interview_ended) unless the interview is open, checked in the same transaction. */
  requireOpen: boolean;
  /** Applied to the interview row in the same transaction as the events. */
  patch?: InterviewPatch;
}

/** One interview's part of a group commit (appendMany). */
export interface AppendGroupItem {
  interviewId: string;
  events: NewEvent[];
}

/** A node's process, where another on the same machine can tell whether it has ended (server/realtime/node-process.ts). */
export interface NodeProcessRecord {
  space: string;
  pid: number;
  started: number;
}

/** A node taken for dead, and when it was last heard from (its last heartbeat, on the database's clock, ISO 8601). */
export interface DeadNode {
  id: string;
  seenAt: string;
}

/** Per interview of a group: its events with their seqs, or why it was refused (the others still commit). */
export type AppendGroupResult = { events: StoredEvent[]; interview: Interview } | { error: DuetError };

export interface NewInterview {
  id: string;
  title: string;
  language: Language;
  createdAt: string;
  createdBy: Actor;
}

export interface Snapshot {
  doc: DocName;
  /** The snapshot holds every `doc` event of this document with seq <= this. */
  seq: number;
  state: Uint8Array;
  /** Y.encodeStateVector of the state; absent on snapshots written before it was stored. */
  stateVector?: Uint8Array | undefined;
}

export interface EventQuery {
  after?: number;
  limit?: number;
  type?: EventType;
  doc?: DocName;
  /**
   * Only `doc` events come with their data; the others come with `{}` (their
   * seq, type and actor still): a room's catch-up needs the documents, not a
   * run's output and code, which can be hundreds of kilobytes each.
   */
  docDataOnly?: boolean;
}

export interface Invite {
  id: string;
  interviewId: string;
  role: InviteRole;
  name: string;
  sub: string;
  createdAt: string;
  expiresAt: string;
  createdBy: string;
  revokedAt: string | null;
}

export interface InterviewListFilter {
  createdBy?: string;
  /** Those whose title has this in it, letters in either case. */
  titleContains?: string;
  before?: number;
  limit: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Creates the interview and its first events (the seed of `main`) atomically. */
  createInterview(interview: NewInterview, seed: NewEvent[]): Promise<Interview>;
  getInterview(id: string): Promise<Interview | undefined>;
  /**
   * Newest first, in the order they were made; `createdBy` filters by the creator's sub.
   * A page of at most `limit`, of those made before the cursor `before`; `next` is the
   * cursor of the page after it, or null when this one reaches the oldest.
   */
  listInterviews(filter: InterviewListFilter): Promise<{ interviews: Interview[]; next: number | null }>;
  /**
   * Appends events with gapless per-interview seqs in commit order, in one
   * transaction. Returns them with their seqs, and the interview after the patch.
   */
  append(interviewId: string, events: NewEvent[], options: AppendOptions): Promise<{ events: StoredEvent[]; interview: Interview }>;
  /**
   * Group commit: appends to several interviews (each at most once, no patch)
   * in one transaction, with the same seq rules as `append`. An interview
   * `append` would refuse (interview_ended, not_found) is refused alone;
   * results come in the order of `items`.
   */
  appendMany(items: AppendGroupItem[], options: { requireOpen: boolean }): Promise<AppendGroupResult[]>;
  readEvents(interviewId: string, query: EventQuery): Promise<StoredEvent[]>;
  /**
   * A page of the log after `after`: at most `limit` events and `maxBytes` of
   * them as stored (data and bin), though its first event always comes,
   * however large; so a page of large events (runs with their output) is cut
   * short rather than read whole. `more` when the log goes on past the page.
   */
  readEventPage(interviewId: string, page: { after: number; limit: number; maxBytes: number }): Promise<{ events: StoredEvent[]; more: boolean }>;
  /** The interview's newest event of this type (the highest seq), if any. */
  latestEvent(interviewId: string, type: EventType): Promise<StoredEvent | undefined>;
  /** The newest chat messages (oldest first) on the given channels. */
  recentChat(interviewId: string, channels: readonly string[], limit: number): Promise<StoredEvent[]>;
  latestSnapshot(interviewId: string, doc: DocName): Promise<Snapshot | undefined>;
  /** Stores the snapshot and deletes that document's older ones: only the newest is ever read. */
  saveSnapshot(interviewId: string, snapshot: Snapshot, at: string): Promise<void>;
  /**
   * Marks a document's newest snapshot, at `from` or later, as its state at
   * `to` too (nothing of it came in between), without writing it again. False
   * when there is none that recent: the caller writes one instead.
   */
  moveSnapshot(interviewId: string, doc: DocName, from: number, to: number, at: string): Promise<boolean>;
  upsertParticipant(interviewId: string, actor: Actor, at: string): Promise<void>;
  /**
   * Claims a Yjs client id of a document for `sub`, unless someone has it
   * already; answers whose it is now. The first claim holds, across nodes.
   */
  claimEditorId(interviewId: string, doc: DocName, clientId: number, sub: string, at: string): Promise<string>;
  /** Whose a Yjs client id of a document is, if anyone's. */
  editorIdOwner(interviewId: string, doc: DocName, clientId: number): Promise<string | undefined>;
  /** Everyone who joined, in the order they first did, with when that was. */
  listParticipants(interviewId: string): Promise<Array<Actor & { firstSeen: string }>>;
  createInvite(invite: Invite): Promise<void>;
  listInvites(interviewId: string): Promise<Invite[]>;
  /** Marks the invite revoked; returns it, or undefined when it is not this interview's. */
  revokeInvite(interviewId: string, id: string, at: string): Promise<Invite | undefined>;
  isInviteRevoked(id: string): Promise<boolean>;
  /** Deletes the interview and, by ON DELETE CASCADE, its events, snapshots, participants and invites. False when absent. */
  deleteInterview(id: string): Promise<boolean>;
  /** Ids of ended interviews whose end is before `endedBefore` (ISO), oldest first. */
  listEndedBefore(endedBefore: string, limit: number): Promise<string[]>;
  /**
   * Node liveness (server/realtime/dead-nodes.ts), on the database's clock.
   * `registerNode` adds this process's record, seen now, taken for dead once
   * not seen for `deadAfterMs`.
   */
  registerNode(id: string, deadAfterMs: number, nodeProcess?: NodeProcessRecord): Promise<void>;
  /** Unclaimed nodes whose process is in this PID space (one machine's kernel boot and PID namespace), with when each was last seen (ms, the database's clock). */
  nodesInPidSpace(space: string): Promise<Array<{ id: string; seenAt: number } & NodeProcessRecord>>;
  /** Marks the node seen now; false when its record is gone or claimed: the others took it for dead. */
  heartbeatNode(id: string): Promise<boolean>;
  /**
   * Claims for `claimer` every other node not seen for its own threshold and
   * not claimed by a live sweeper (a claim older than the claimer's threshold
   * is taken over; the claimer's own are claimed again); answers their ids,
   * each with when it was last heard from (its last heartbeat, on the
   * database's clock, ISO 8601). Claims nothing unless the claimer itself was
   * seen in the last `freshMs` and is not claimed: a claim that waited out a
   * stalled database finds its claimer stale too.
   *
   * With `exited`, claims only those nodes, whatever their last heartbeat:
   * nodes known to be dead (cluster mode: the primary saw their process end).
   * With `silent` too, only those of them not heard from for a quarter of
   * their own threshold and a second, more than one of their beats: for nodes
   * whose death is read from their process (server/realtime/node-process.ts),
   * which a machine cloned from another's memory could misread.
   */
  claimDeadNodes(
    claimer: string,
    deadAfterMs: number,
    freshMs: number,
    exited?: readonly string[],
    options?: { silent?: boolean },
  ): Promise<DeadNode[]>;
  /** Deletes a node's record (its sweep is done). */
  forgetNode(id: string): Promise<void>;
  /** The `join` events a node logged (`data.node`) in interviews still open, each with its interview. */
  joinsLoggedBy(nodeId: string): Promise<Array<StoredEvent & { interviewId: string }>>;
  /** Throws when the database cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
