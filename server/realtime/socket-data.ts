import type { Actor } from '../../shared/protocol.js';
import type { TokenClaims } from '../../shared/schemas.js';
import type { Room } from '../rooms/room.js';
import type { Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../shared/protocol.js';
import type { TokenBucket } from './token-bucket.js';

/** Per-socket state, set at the handshake. */
export interface SocketData {
  claims: TokenClaims;
  actor: Actor;
  interviewId: string;
  /** Resolves once the room is loaded on this node. */
  room: Promise<Room>;
  /**
   * Resolves once the socket is in the interview's channels. A sync answered
   * earlier could miss an edit committed between its read of the log and the
   * subscription, so a sync waits for this; not for the rest of the join
   * (participants, chat, `session`), which its answer does not depend on.
   */
  inChannels: Promise<void>;
  /**
   * Resolves once the joiner's participant row and its `join` event are
   * committed; rejects when the join fails. The events a socket logs wait for
   * it: none is logged for someone without a row, or before their join.
   */
  admitted: Promise<void>;
  /** `admitted` has resolved: events need not wait a turn for it. */
  admittedYet?: boolean;
  /**
   * When (performance.now()) the socket's channels were joined: any edit
   * committed after this reaches it as a broadcast, so a read of the log that
   * started later is recent enough to answer its sync.
   */
  subscribedAt?: number;
  /** Documents this socket has asked to sync, one bit each (DOC_NAMES order). */
  syncedDocs?: number;
  /** Answered from a cold load's stored bytes before `session` (sent as they are, or cut): the node applies its own copy once `session` is out. */
  sentStored?: boolean;
  /** Set once `room` has resolved and the socket counts in it (data stays plain: other nodes read it). */
  joined?: boolean;
  /** The node id its `join` is logged under (dead-nodes.ts): should others log that id's leaves, the socket is closed and rejoins. */
  node?: string;
  /** The socket's event limit (every event). */
  bucket: TokenBucket;
  /** The socket's last `doc:update` in progress: updates apply one at a time, in order. */
  docQueue?: Promise<unknown>;
}

export type DuetSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
