/**
 * The v1 wire contract: typed Socket.IO event maps and the shapes on the wire.
 * Server and client both import this file; nothing on the wire is declared twice.
 */
import type { ErrorBody, WireError } from './errors.js';
import type { Language } from './languages.js';
import type { ChatChannel, DocName, Role } from './roles.js';
import type {
  AwarenessMessage,
  ChatSendRequest,
  DocSyncRequest,
  DocUpdateMessage,
  LanguageRequest,
  RunSettingsRequest,
  RunStartRequest,
  RunStopRequest,
} from './schemas.js';

import type { SignalReport } from './schemas.js';

export const PROTOCOL_VERSION = 1;

export type InterviewStatus = 'open' | 'ended';

export interface Interview {
  id: string;
  title: string;
  language: Language;
  status: InterviewStatus;
  createdAt: string;
  endedAt: string | null;
  createdBy: { sub: string; name: string };
  /**
   * The interview's event log up to this seq is in this copy: a copy with a
   * higher seq is the newer one. Copies are read and broadcast concurrently,
   * so one can arrive after a newer one; keep the highest. Absent from nodes
   * before it.
   */
  seq: number;
}

export interface Actor {
  sub: string;
  name: string;
  role: Role;
}

export interface Participant extends Actor {
  online: boolean;
  /** When they first joined (ISO). Absent from nodes before it. */
  firstSeen?: string;
}

/** What changed in the interview, who made the change and when: sent beside the `interview` it made. */
export interface InterviewChange {
  kind: 'language' | 'end';
  by: Actor;
  at: string;
}

export interface ChatMessage {
  id: string;
  at: string;
  channel: ChatChannel;
  from: Actor;
  text: string;
}

export type EventType = 'signal' | 'doc' | 'chat' | 'join' | 'leave' | 'language' | 'end' | 'run' | 'run_settings';

export interface LoggedEvent {
  seq: number;
  at: string;
  type: EventType;
  actor: Actor;
  data: Record<string, unknown>;
}

export interface SessionInfo {
  interview: Interview;
  you: Actor;
  participants: Participant[];
  chat: ChatMessage[];
  protocol: number;
  /**
   * The documents of the handshake's `auth.sync` this node answers with a
   * `doc:sync` event (before or after `session`). Absent from a node that
   * predates it: a client then sends `doc:sync` itself.
   */
  handshakeSync?: DocName[];
  /**
   * The interview languages the node's code runner runs (none when it runs
   * no code). Absent from a node that predates it: a client then offers Run
   * whatever the language.
   */
  runLanguages?: Language[];
  /** The node's clock when it sent this (ISO), for times the page counts from the node's (the room's clock). Absent from nodes before it. */
  serverTime?: string;
}

export type Ack<T> = T | ErrorBody;
export type AckFn<T> = (reply: Ack<T>) => void;

export interface DocSyncReply {
  update: Uint8Array;
  stateVector: Uint8Array;
}

/** The answer to a sync asked in the handshake (`auth.sync`): a `doc:sync` ack's answer, with its document. */
export type HandshakeSyncAnswer = { doc: DocName } & Ack<DocSyncReply>;

/** Code runs (docs/runner.md). A run is queued, then running, then ends with `run:exit`. */
export interface RunState {
  runId: string;
  state: 'queued' | 'running';
  path: string;
  language: Language;
  by: Actor;
  at: string;
  /** The program's standard input, when it was given any: everyone sees what the run read. */
  stdin?: string;
}

export interface RunOutput {
  runId: string;
  stream: 'stdout' | 'stderr';
  data: string;
  /**
   * Characters of the run's output (both streams, in the order written)
   * before this chunk: a joiner is sent the output so far while new chunks
   * are broadcast, so a chunk can come twice or out of order. Absent from
   * nodes before it.
   */
  offset: number;
}

/** A finished run as the event log has it: for a joiner, what the room last saw of runs. */
export interface RunRecord {
  runId: string;
  path: string;
  language: Language;
  by: Actor;
  /** When it was started. */
  at: string;
  /** Its output (at most LIMITS.runOutputChars of it), as chunks with offsets. */
  output: Array<Omit<RunOutput, 'runId'>>;
  exit: RunExit;
  /** Its standard input, when it was given any. */
  stdin?: string;
}

export interface RunExit {
  runId: string;
  /** Exit status; null when a signal ended it. */
  code: number | null;
  signal: string | null;
  durationMs: number;
  /** Peak resident memory of the program; null when it could not be measured. */
  maxRssKb: number | null;
  /** Output passed the limit: reading stopped and the program was killed. */
  truncated: boolean;
  /** Why the runner ended it: `run_timeout`, `output_truncated`, `runner_unavailable`, ... */
  error?: WireError;
  /** Who pressed stop, when someone did. */
  stoppedBy?: Actor;
}

export interface RunSettings {
  candidateMayRun: boolean;
  /**
   * The `seq` of the `run_settings` event they come from (0: the default).
   * A joiner's copy is read while changes are broadcast: keep the newest.
   */
  seq: number;
}

/** An integrity signal, as interviewers and observers see it live (docs/replay.md). */
export interface SignalNotice extends SignalReport {
  /** The seq of its `signal` event in the log. */
  id: string;
  at: string;
  from: Actor;
}

export interface ClientToServerEvents {
  'doc:sync': (payload: DocSyncRequest, ack: AckFn<DocSyncReply>) => void;
  'doc:update': (payload: DocUpdateMessage, ack: AckFn<{ ok: true }>) => void;
  awareness: (payload: AwarenessMessage, ack?: AckFn<{ ok: true }>) => void;
  'chat:send': (payload: ChatSendRequest, ack: AckFn<{ message: ChatMessage }>) => void;
  /** The answer carries the interview as the change left it (absent from nodes before it). */
  'interview:language': (payload: LanguageRequest, ack: AckFn<{ ok: true; interview?: Interview }>) => void;
  'signal:report': (payload: SignalReport, ack?: AckFn<{ ok: true }>) => void;
  'run:start': (payload: RunStartRequest, ack: AckFn<{ runId: string }>) => void;
  'run:stop': (payload: RunStopRequest, ack: AckFn<{ ok: true }>) => void;
  'run:settings': (payload: RunSettingsRequest, ack: AckFn<RunSettings>) => void;
}

export interface ServerToClientEvents {
  session: (session: SessionInfo) => void;
  'doc:sync': (answer: HandshakeSyncAnswer) => void;
  'doc:update': (payload: { doc: DocName; update: Uint8Array }) => void;
  awareness: (payload: { doc: DocName; update: Uint8Array }) => void;
  'chat:message': (message: ChatMessage) => void;
  participants: (participants: Participant[]) => void;
  /** `change` names who made it (absent from nodes before it). */
  interview: (interview: Interview, change?: InterviewChange) => void;
  error: (error: { code: string; message: string }) => void;
  /** Integrity signals of the candidate, to interviewers and observers only. */
  signal: (signal: SignalNotice) => void;
  'run:state': (payload: RunState) => void;
  'run:output': (payload: RunOutput) => void;
  'run:exit': (payload: RunExit) => void;
  'run:settings': (payload: RunSettings) => void;
  /** To a joiner when no run is in progress: the interview's last finished run, if it has one. */
  'run:last': (payload: RunRecord) => void;
}

/** Events a client may send; anything else is answered `unknown_event`. */
export const CLIENT_EVENTS = [
  'doc:sync',
  'doc:update',
  'awareness',
  'chat:send',
  'interview:language',
  'signal:report',
  'run:start',
  'run:stop',
  'run:settings',
] as const;
