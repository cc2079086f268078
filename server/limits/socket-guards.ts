/**
 * Guards around Socket.IO connections that are about abuse, not about who the
 * client is: the origin allow-list and the per-IP handshake budget (before the
 * token is even checked: verifying costs more than refusing), and the cap on
 * live sockets per interview (after it, since it needs the interview).
 */
import type { Logger } from 'pino';
import { DuetError } from '../../shared/errors.js';
import type { Config } from '../config.js';
import type { DuetIO } from '../context.js';
import { isAllowedOrigin } from '../http/security.js';
import type { Metrics } from '../metrics.js';
import { handshakeRefusal } from '../realtime/handle.js';
import type { DuetSocket } from '../realtime/socket-data.js';
import type { ClientIp } from './client-ip.js';
import type { IpLimiter } from './rate-limits.js';

/** Runs before authentication. */
export function registerHandshakeGuard(
  io: DuetIO,
  config: Pick<Config, 'publicUrl' | 'corsOrigins'>,
  limiter: IpLimiter,
  clientIp: ClientIp,
  metrics: Metrics,
): void {
  io.use(async (socket, next) => {
    let err: DuetError | undefined;
    // Dropped once a socket has connected (connection.ts): a second namespace
    // connect on that same connection has nothing to check, so it is refused.
    if (!socket.request) {
      err = new DuetError('unauthorized', 'connect on a new connection');
    } else if (!isAllowedOrigin(socket.request, config)) {
      err = new DuetError('forbidden', 'this origin may not connect (CORS_ORIGINS)');
    } else {
      const wait = await limiter.consume(clientIp(socket.request));
      if (wait !== undefined) err = new DuetError('rate_limited', `too many connections from this address; retry in ${wait} s`);
    }
    if (!err) return next();
    metrics.errors.inc({ code: err.code });
    next(handshakeRefusal(err));
  });
}

/**
 * Runs after authentication (it reads socket.data.interviewId and the
 * actor). The handshake check gives a clear connect_error; the count at
 * `connection` is the hard bound, since concurrent handshakes can all pass
 * the check before any of them connects. Per interview, and per person in it:
 * one invite (a leaked link, a candidate's script) must not take all of an
 * interview's places on a node, nor multiply its per-socket budgets.
 */
export function registerConnectionCap(io: DuetIO, caps: { perInterview: number; perPerson: number }, metrics: Metrics, log: Logger): void {
  const live = new Map<string, number>();
  const keysOf = (socket: DuetSocket) => [socket.data.interviewId, `${socket.data.interviewId}\n${socket.data.actor.sub}`] as const;
  /** Why this socket is one too many: `joining`, not counted yet (the handshake); else counted already. */
  const refusal = (socket: DuetSocket, joining: boolean): DuetError | undefined => {
    const [interview, person] = keysOf(socket);
    const after = (key: string) => (live.get(key) ?? 0) + (joining ? 1 : 0);
    if (after(interview) > caps.perInterview) {
      return new DuetError('too_many_connections', `this interview already has ${caps.perInterview} connections on this node`);
    }
    if (after(person) > caps.perPerson) {
      return new DuetError('too_many_connections', `you already have ${caps.perPerson} connections to this interview on this node`);
    }
    return undefined;
  };
  const release = (key: string) => {
    const left = (live.get(key) ?? 1) - 1;
    if (left > 0) live.set(key, left);
    else live.delete(key); // no entry outlives its interview's last socket
  };
  io.use((socket, next) => {
    const err = refusal(socket, true);
    if (!err) return next();
    metrics.errors.inc({ code: err.code });
    next(handshakeRefusal(err));
  });
  io.on('connection', (socket: DuetSocket) => {
    const keys = keysOf(socket);
    for (const key of keys) live.set(key, (live.get(key) ?? 0) + 1);
    // Who and where, never the token: logs are read by more people than interviews are.
    const who = { interviewId: socket.data.interviewId, sub: socket.data.actor.sub, role: socket.data.actor.role };
    log.debug({ ...who, transport: socket.conn.transport.name }, 'socket connected');
    socket.once('disconnect', (reason) => {
      log.debug({ ...who, reason }, 'socket disconnected');
      for (const key of keys) release(key);
    });
    const err = refusal(socket, false);
    if (err) {
      metrics.errors.inc({ code: err.code });
      log.debug({ interviewId: who.interviewId }, 'connection cap reached');
      socket.emit('error', err.toBody().error);
      socket.disconnect(true);
    }
  });
}
