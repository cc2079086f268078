/**
 * Handshake and the life of one socket: authenticate once, join the
 * interview's rooms, send `session`, register every handler, enforce token
 * expiry, and clean up on disconnect.
 */
import { CLIENT_EVENTS, PROTOCOL_VERSION } from '../../shared/protocol.js';
import { DuetError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import { can } from '../../shared/roles.js';
import { verifyToken } from '../access.js';
import { channelOf, type ServerContext } from '../context.js';
import { actorOf } from '../interviews.js';
import type { Room } from '../rooms/room.js';
import { clearAwareness, registerAwareness, sendAwarenessState } from './awareness.js';
import { chatMessageOf, registerChat, visibleChannels } from './chat.js';
import { registerDocuments } from './documents.js';
import { registerRunPeers } from './run-peers.js';
import { registerRuns, sendRunnerState } from './runs.js';
import { registerInterviewEvents } from './interview-events.js';
import { broadcastParticipants, listParticipants } from './participants.js';
import { registerSignals } from './signals.js';
import type { DuetSocket } from './socket-data.js';
import { TokenBucket } from './token-bucket.js';

const MAX_TIMER_MS = 2 ** 31 - 1;
const KNOWN_EVENTS = new Set<string>(CLIENT_EVENTS);

function refuse(err: DuetError): Error {
  // socket.io-client exposes `data` on connect_error.
  return Object.assign(new Error(err.message), { data: err.toBody().error });
}

export function registerConnections(ctx: ServerContext): void {
  const { io } = ctx;
  registerRunPeers(ctx);

  io.use(async (socket, next) => {
    try {
      const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
      if (typeof token !== 'string' || token.length === 0 || token.length > 8192) {
        throw new DuetError('unauthorized', 'a token is required in auth.token');
      }
      const claims = await verifyToken(ctx, token);
      if (claims.iid === undefined) throw new DuetError('forbidden', 'joining takes a token scoped to one interview (an invite)');
      if (!can.joinLive(claims.role)) throw new DuetError('forbidden', `the ${claims.role} role cannot join the live room`);
      const interview = await ctx.store.getInterview(claims.iid);
      if (!interview) throw new DuetError('not_found', 'no such interview');
      socket.data.claims = claims;
      socket.data.actor = actorOf(claims);
      socket.data.interviewId = claims.iid;
      socket.data.awarenessIds = { main: new Set(), notes: new Set() };
      next();
    } catch (err) {
      const e = err instanceof DuetError ? err : new DuetError('unavailable', 'could not check the interview; retry later');
      if (!(err instanceof DuetError)) ctx.log.error({ err }, 'handshake failed');
      ctx.metrics.errors.inc({ code: e.code });
      next(refuse(e));
    }
  });

  io.on('connection', (socket: DuetSocket) => {
    ctx.metrics.sockets.inc();
    const { actor, interviewId, claims } = socket.data;
    const bucket = new TokenBucket(ctx.config.socketEventsPerSecond, ctx.config.socketEventBurst);

    // Handlers first, synchronously, so no early event finds nobody listening;
    // each awaits the room.
    const room = ctx.rooms.acquire(interviewId);
    room.catch(() => {});
    socket.data.room = room;
    registerDocuments(ctx, socket, bucket);
    registerAwareness(ctx, socket, bucket);
    registerChat(ctx, socket, bucket);
    registerInterviewEvents(ctx, socket, bucket);
    registerSignals(ctx, socket, bucket);
    registerRuns(ctx, socket, bucket);
    socket.onAny((event: string, ...args: unknown[]) => {
      if (KNOWN_EVENTS.has(event)) return;
      const last = args[args.length - 1];
      const body = new DuetError('unknown_event', `the server does not accept "${String(event).slice(0, 50)}" from clients`).toBody();
      ctx.metrics.errors.inc({ code: 'unknown_event' });
      if (typeof last === 'function') (last as (r: unknown) => void)(body);
      else socket.emit('error', body.error);
    });

    const cancelExpiry = scheduleExpiry(socket, claims.exp);
    let joined: Room | undefined;
    socket.on('disconnect', () => {
      cancelExpiry();
      ctx.metrics.sockets.dec();
      // Not joined yet: the join flow sees the socket gone and releases the room itself.
      if (!joined) return;
      clearAwareness(ctx, socket, joined);
      ctx.rooms.release(joined);
      const at = new Date().toISOString();
      ctx.writer
        .append(interviewId, { type: 'leave', at, actor, data: {} })
        .catch(() => {}) // an ended interview logs no leaves
        .finally(() => broadcastParticipants(ctx, interviewId).catch(() => {}));
    });

    void (async () => {
      try {
        joined = await room;
        if (socket.disconnected) {
          ctx.rooms.release(joined);
          joined = undefined;
          return;
        }
        const chans = [channelOf.all(interviewId)];
        if (can.readDoc(actor.role, 'notes')) chans.push(channelOf.panel(interviewId));
        const at = new Date().toISOString();
        // Independent of each other, so together: the channels (a Redis round
        // trip on the sharded adapter), the participant row, the fresh interview.
        const [, , fresh] = await Promise.all([
          socket.join(chans),
          ctx.store.upsertParticipant(interviewId, actor, at),
          ctx.store.getInterview(interviewId),
        ]);
        const interview = fresh ?? joined.interview;
        joined.interview = interview;
        if (interview.status === 'open') {
          await ctx.writer.append(interviewId, { type: 'join', at, actor, data: {} }).catch(() => {});
        }
        const [participants, chat] = await Promise.all([
          listParticipants(ctx, interviewId),
          ctx.store.recentChat(interviewId, visibleChannels(actor.role), LIMITS.sessionChatMessages),
        ]);
        socket.emit('session', {
          interview,
          you: actor,
          participants,
          chat: chat.map(chatMessageOf),
          protocol: PROTOCOL_VERSION,
        });
        sendAwarenessState(socket, joined, 'main');
        if (can.readDoc(actor.role, 'notes')) sendAwarenessState(socket, joined, 'notes');
        // Not awaited: asking other nodes about a run must not hold up the join.
        sendRunnerState(ctx, socket).catch((err) => ctx.log.warn({ err, interviewId }, 'could not send the runner state'));
        socket.broadcast.to(channelOf.all(interviewId)).emit('participants', participants);
      } catch (err) {
        const e = err instanceof DuetError ? err : new DuetError('unavailable', 'could not open the interview; retry later');
        if (!(err instanceof DuetError)) ctx.log.error({ err, interviewId }, 'join failed');
        socket.emit('error', e.toBody().error);
        socket.disconnect(true);
      }
    })();
  });
}

/** Tells the socket and drops it when its token expires; returns the cancel. */
function scheduleExpiry(socket: DuetSocket, exp: number): () => void {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const ms = exp * 1000 - Date.now();
    // Timers overflow past ~24.8 days: re-arm in steps.
    timer = setTimeout(ms > MAX_TIMER_MS ? arm : expire, Math.max(0, Math.min(ms, MAX_TIMER_MS)));
  };
  const expire = () => {
    socket.emit('error', { code: 'token_expired', message: 'your token has expired; rejoin with a new invite' });
    socket.disconnect(true);
  };
  arm();
  return () => clearTimeout(timer);
}
