/**
 * One live connection to a Duet room: the Socket.IO socket plus DuetProvider
 * (shared/provider.ts), which does the whole sync protocol. This module only
 * picks the documents a role may hold and turns socket failures into states
 * the page can show.
 */
import { io } from 'socket.io-client';
import { DuetProvider, RECONNECTION_DELAYS, type DuetClientSocket } from '../../shared/provider.js';
import type { DocName, Role } from '../../shared/roles.js';

/** Errors after which coming back with the same token cannot work. */
const FATAL = new Set(['token_expired', 'invalid_token', 'invite_revoked', 'unauthorized', 'forbidden', 'not_found']);
/** Handshake refusals that pass: try again shortly. */
const TRANSIENT = new Set(['unavailable', 'rate_limited', 'internal']);
/**
 * Too many connections passes too when they are this page's own dead sockets
 * (a flapping network), which count until the node's pings drop them, twice
 * PING_INTERVAL_SECONDS (at most 14) at most; past this the interview (or this
 * person's share of it) is full.
 */
const FULL_AFTER_MS = 30_000;

export interface Refusal {
  code: string;
  message: string;
}

export interface RoomConnection {
  socket: DuetClientSocket;
  provider: DuetProvider;
  /** True while Socket.IO is between attempts after losing the node. */
  reconnecting(): boolean;
  close(): void;
}

export function connectRoom(token: string, interviewId: string, role: Role | undefined, onRefused: (r: Refusal) => void): RoomConnection {
  const socket: DuetClientSocket = io({
    auth: { token },
    // For the load balancer only (the node goes by the token): every request
    // of every page of one interview can be routed to one node, whose edits
    // then reach the others without crossing Redis (docs/deploy.md).
    query: { interview: interviewId },
    // WebSocket first; long-polling only if the WebSocket cannot open (a proxy that strips upgrades).
    transports: ['websocket', 'polling'],
    tryAllTransports: true,
    ...RECONNECTION_DELAYS,
  });
  // `notes` is never even attached for a candidate: nothing to leak, nothing asked for.
  const docs: DocName[] = role === 'interviewer' || role === 'observer' ? ['main', 'notes'] : ['main'];
  const provider = new DuetProvider(socket, docs);
  let retrying = false;
  let fatal = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let retryDelay = 300;

  const refuse = (r: Refusal) => {
    fatal = true;
    retrying = false;
    clearTimeout(retryTimer);
    onRefused(r);
  };

  const retryLater = (delay = retryDelay) => {
    retrying = true;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      if (!fatal && socket.disconnected) socket.connect();
    }, delay);
    retryDelay = Math.min(retryDelay * 2, 2000);
  };
  /** When the node first said it has too many connections, since the last connect. */
  let fullSince: number | undefined;

  socket.on('connect_error', (err: Error & { data?: Refusal }) => {
    if (!err.data?.code) {
      retrying = true; // transport failure: Socket.IO retries by itself
      return;
    }
    // The node refused the handshake. Socket.IO never retries that on its own.
    if (TRANSIENT.has(err.data.code)) retryLater();
    else if (err.data.code === 'too_many_connections' && Date.now() - (fullSince ??= Date.now()) < FULL_AFTER_MS) {
      // Spread out: every refused page of a full interview asks again.
      retryLater(3000 + Math.random() * 4000);
    } else refuse(err.data);
  });
  socket.on('connect', () => {
    retrying = false;
    retryDelay = 300;
    fullSince = undefined;
  });
  socket.io.on('reconnect_attempt', () => {
    retrying = true;
  });
  socket.on('error', (e) => {
    // Only what ends the session: an `error` for one bad event (rate_limited, ...) does not.
    if (FATAL.has(e.code) && e.code !== 'forbidden' && e.code !== 'unauthorized') refuse(e);
  });
  socket.on('disconnect', (reason) => {
    // A node that shuts down (deploy, restart) disconnects its sockets on
    // purpose, and Socket.IO never retries a server-side disconnect. Unless the
    // node told us why we may not come back, retry: the next node (or this
    // one, restarted) takes us, and the provider resends what is pending.
    if (reason !== 'io server disconnect' || fatal) return;
    retryLater();
  });

  return {
    socket,
    provider,
    reconnecting: () => retrying,
    close() {
      fatal = true;
      clearTimeout(retryTimer);
      provider.destroy();
      socket.disconnect();
    },
  };
}
