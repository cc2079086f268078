import type { Actor } from '../../shared/protocol.js';
import type { TokenClaims } from '../../shared/schemas.js';
import type { Room } from '../rooms/room.js';
import type { Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../../shared/protocol.js';
import type { DocName } from '../../shared/roles.js';

/** Per-socket state, set at the handshake. */
export interface SocketData {
  claims: TokenClaims;
  actor: Actor;
  interviewId: string;
  /** Resolves once the room is loaded on this node. */
  room: Promise<Room>;
  /** Awareness client ids this socket announced, per document, to clear when it leaves. */
  awarenessIds: Record<DocName, Set<number>>;
}

export type DuetSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
