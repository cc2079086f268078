/** Table types for Kysely; the same tables on SQLite and PostgreSQL. */
import type { Generated } from 'kysely';

export interface InterviewsTable {
  id: string;
  title: string;
  language: string;
  status: string;
  created_at: string;
  ended_at: string | null;
  created_by_sub: string;
  created_by_name: string;
  /** The last seq handed out; bumping it row-locks the interview, which keeps seqs gapless in commit order. */
  last_seq: number;
  /** The order of creation, numbered by the database (migration 0007): the list's order and its cursor. */
  created_seq: Generated<number>;
}

export interface EventsTable {
  interview_id: string;
  seq: number;
  at: string;
  type: string;
  doc: string | null;
  actor_sub: string;
  actor_name: string;
  actor_role: string;
  /** JSON text. */
  data: string;
  bin: Uint8Array | null;
}

export interface SnapshotsTable {
  interview_id: string;
  doc: string;
  seq: number;
  at: string;
  state: Uint8Array;
  state_vector: Uint8Array | null;
}

export interface EditorIdsTable {
  interview_id: string;
  doc: string;
  client_id: number;
  sub: string;
  at: string;
}

export interface NodesTable {
  id: string;
  /** Milliseconds since the epoch, on the database's clock. */
  seen_at: number;
  dead_after_ms: number;
  swept_by: string | null;
  swept_at: number | null;
  /** Its process (server/realtime/node-process.ts); null where that cannot be told. */
  pid_space: string | null;
  pid: number | null;
  pid_started: number | null;
}

export interface ParticipantsTable {
  interview_id: string;
  sub: string;
  name: string;
  role: string;
  first_seen: string;
  id: Generated<number>;
}

export interface InvitesTable {
  id: string;
  interview_id: string;
  role: string;
  name: string;
  sub: string;
  created_at: string;
  expires_at: string;
  created_by_sub: string;
  revoked_at: string | null;
}

export interface Database {
  interviews: InterviewsTable;
  events: EventsTable;
  snapshots: SnapshotsTable;
  participants: ParticipantsTable;
  invites: InvitesTable;
  editor_ids: EditorIdsTable;
  nodes: NodesTable;
}
