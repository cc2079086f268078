/**
 * Handshake and the life of one socket: authenticate once, join the
 * interview's rooms, send `session`, register every handler, enforce token
 * expiry, and clean up on disconnect.
 */
import type { IncomingMessage } from 'node:http';
import { PROTOCOL_VERSION, type Actor, type Interview } from '../../shared/protocol.js';
import { DuetError } from '../../shared/errors.js';
import { newerInterview } from '../../shared/interview-copies.js';
import { LIMITS } from '../../shared/limits.js';
import { can, DOC_NAMES, type DocName, type Role } from '../../shared/roles.js';
import { handshakeSyncSchema, type HandshakeSync } from '../../shared/schemas.js';
import { assertNotRevoked } from '../access.js';
import { channelOf, type ServerContext } from '../context.js';
import { actorOf } from '../interviews.js';
import type { Room } from '../rooms/room.js';
import type { NewEvent } from '../store/store.js';
import { logLevelOf } from '../store/unreachable.js';
import { awarenessHandlers, clearAwareness, sendAwarenessState } from './awareness.js';
import { chatHandlers, chatMessageOf, visibleChannels } from './chat.js';
import { answerSync, documentHandlers, reportApplyFailure } from './documents.js';
import { registerSocketDrops } from './drop-sockets.js';
import { createDispatcher, handshakeRefusal, parseOrThrow, toErrorBody } from './handle.js';
import { registerRunPeers } from './run-peers.js';
import { runHandlers, sendRunnerState } from './runs.js';
import { interviewHandlers } from './interview-events.js';
import { startNodeLiveness } from './dead-nodes.js';
import { createParticipantLists, listParticipants, withParticipant } from './participants.js';
import { signalHandlers } from './signals.js';
import { reportSnapshotFailure } from './snapshot-failures.js';
import type { DuetSocket } from './socket-data.js';
import { TokenBucket } from './token-bucket.js';

/** Waits before each new try of a leave the store refused for now. */
const LEAVE_RETRIES_MS = [1000, 3000];

/** Joins the interview's Socket.IO rooms: everyone's, and the panel's for those who read the notes. */
async function subscribe(socket: DuetSocket, role: Role, interviewId: string): Promise<void> {
  const chans = [channelOf.all(interviewId)];
  if (can.readDoc(role, 'notes')) chans.push(channelOf.panel(interviewId));
  await socket.join(chans);
}

export function registerConnections(
  ctx: ServerContext,
  onNodeId?: (id: string) => void,
): {
  /** Stops the token-expiry sweep (a node begins to shut down). */
  stopSweeps(): void;
  /** Nodes whose process has ended: their connections are logged as left now (dead-nodes.ts). */
  nodesExited(ids: readonly string[]): void;
  /** Stops everything, the node's heartbeat included (its last step). */
  close(): Promise<void>;
} {
  const { io } = ctx;
  // Names this node in each join it logs, so its connections are logged as left should it die.
  const liveness = startNodeLiveness(ctx, onNodeId);
  registerRunPeers(ctx);
  registerSocketDrops(ctx);
  const participantLists = createParticipantLists(ctx);
  const dispatch = createDispatcher(
    ctx,
    {
      ...documentHandlers(ctx),
      ...awarenessHandlers(ctx),
      ...chatHandlers(ctx),
      ...interviewHandlers(ctx),
      ...signalHandlers(ctx),
      ...runHandlers(ctx),
    },
    // A sync and a cursor log nothing: they need not wait for the joiner's row.
    (socket, event) => (socket.data.admittedYet || event === 'doc:sync' || event === 'awareness' ? undefined : socket.data.admitted),
  );

  // What the handshake found, for the connection to use once: the interview
  // (a room loading for this socket need not read it again) and the state
  // vectors of `auth.sync`, answered once the socket is in the room; and
  // the subscription to the interview's channels, begun there.
  const fromHandshake = new WeakMap<object, { interview: Interview; syncs: HandshakeSync | undefined; subscribing: Promise<void> }>();

  io.use(async (socket, next) => {
    try {
      const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
      if (typeof token !== 'string' || token.length === 0 || token.length > 8192) {
        throw new DuetError('unauthorized', 'a token is required in auth.token');
      }
      const sync = (socket.handshake.auth as { sync?: unknown }).sync;
      // Bad input refuses the handshake before anything is read.
      const syncs = sync === undefined ? undefined : parseOrThrow(handshakeSyncSchema, sync);
      const claims = await ctx.tokens.verify(token);
      if (claims.iid === undefined) throw new DuetError('forbidden', 'joining takes a token scoped to one interview (an invite)');
      if (!can.joinLive(claims.role)) throw new DuetError('forbidden', `the ${claims.role} role cannot join the live room`);
      const interviewRead = ctx.store.getInterview(claims.iid);
      // While the checks below wait on the database, the room loads (its
      // snapshots read alongside this interview read) and the socket
      // subscribes to its channels: a cold join's answer then waits for one
      // read of the log after the connection, not for the whole load. A
      // refused handshake undoes both: Socket.IO takes the socket out of its
      // channels, and a room no socket claims unloads.
      ctx.rooms.preload(claims.iid, interviewRead);
      const subscribing = subscribe(socket, claims.role, claims.iid);
      subscribing.catch(() => {}); // the join reports it, once connected
      // Two independent reads, one round trip's wait; a revoked invite is
      // told so even if the other read failed.
      const [notRevoked, read] = await Promise.allSettled([assertNotRevoked(ctx, claims), interviewRead]);
      if (notRevoked.status === 'rejected') throw notRevoked.reason;
      if (read.status === 'rejected') throw read.reason;
      const interview = read.value;
      if (!interview) throw new DuetError('not_found', 'no such interview');
      fromHandshake.set(socket, { interview, syncs, subscribing });
      socket.data.claims = claims;
      socket.data.actor = actorOf(claims);
      socket.data.interviewId = claims.iid;
      next();
    } catch (err) {
      const e = err instanceof DuetError ? err : new DuetError('unavailable', 'could not check the interview; retry later');
      if (!(err instanceof DuetError)) ctx.log[logLevelOf(err)]({ err }, 'handshake failed');
      ctx.metrics.errors.inc({ code: e.code });
      next(handshakeRefusal(e));
    }
  });

  // Shared by every socket of the node (EventEmitter calls it with the socket
  // as `this`): a closure per socket would cost heap on every idle connection.
  function onDisconnect(this: DuetSocket, reason: string): void {
    ctx.metrics.sockets.dec();
    // The client left the namespace but kept its connection: Duet serves one
    // namespace, so nothing can use it any more. Left open, it would linger
    // until its pings stop, and events already in flight on it would go
    // unanswered rather than fail.
    if (reason === 'client namespace disconnect') this.conn.close();
    if (this.data.joined) void leave(this);
    // Not joined yet: the join flow sees the socket gone and releases the
    // room itself. Lists read meanwhile may have counted it online.
    else participantLists.changed(this.data.interviewId);
  }

  async function leave(socket: DuetSocket): Promise<void> {
    const { actor, interviewId } = socket.data;
    // First: the list reads no log, so it need not wait for the leave's commit.
    participantLists.changed(interviewId);
    // Joined, so this promise has resolved.
    const joined = await socket.data.room;
    clearAwareness(ctx, socket, joined);
    ctx.rooms.release(joined);
    const at = new Date().toISOString();
    if (joined.sockets === 0) {
      // A tenth of the regular interval: a participant reconnecting now and
      // then does not rewrite the snapshot each time.
      joined
        .snapshotIfBehind(Math.ceil(ctx.config.snapshotEvery / 10), at)
        ?.catch(reportSnapshotFailure(ctx, interviewId));
    }
    // After the join's own event, if it was logged at all; an ended interview logs no leaves.
    socket.data.admitted.then(
      () => void logLeave(interviewId, { type: 'leave', at, actor, data: { conn: socket.id } }),
      () => {},
    );
  }

  /**
   * A leave the log lost would show the person online in the replay until the
   * end: a store that failed for a moment (a failover, a restart) gets a few
   * more tries. An ended interview refuses it for good, as it should.
   */
  async function logLeave(interviewId: string, event: NewEvent): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        // A failure can come after the commit (the connection lost on the
        // way back): logged twice, the replay would take one of the person's
        // other tabs offline. The connection's id tells this leave from
        // another tab's, even one that left in the same millisecond.
        if (attempt > 0 && (await leaveLogged(interviewId, event))) return;
        await ctx.writer.append(interviewId, event);
        return;
      } catch (err) {
        if (err instanceof DuetError && err.code !== 'unavailable' && err.code !== 'internal') return;
        const waitMs = LEAVE_RETRIES_MS[attempt];
        if (waitMs === undefined) break;
        await new Promise((r) => setTimeout(r, waitMs).unref());
      }
    }
    ctx.log.warn({ interviewId, sub: event.actor.sub }, 'a leave could not be logged');
  }

  async function leaveLogged(interviewId: string, event: NewEvent): Promise<boolean> {
    const leaves = await ctx.store.readEvents(interviewId, { type: 'leave' });
    return leaves.some((e) => e.actor.sub === event.actor.sub && e.data.conn === event.data.conn);
  }

  io.on('connection', (socket: DuetSocket) => {
    ctx.metrics.sockets.inc();
    forgetHandshakeLeftovers(socket);
    socket.data.bucket = new TokenBucket(ctx.config.socketEventsPerSecond, ctx.config.socketEventBurst);

    // Handlers first, synchronously, so no early event finds nobody listening;
    // each awaits the room.
    const handshake = fromHandshake.get(socket);
    fromHandshake.delete(socket);
    const room = ctx.rooms.acquire(socket.data.interviewId, handshake?.interview);
    room.catch(() => {});
    socket.data.room = room;
    socket.onAny(dispatch);
    socket.on('disconnect', onDisconnect);
    const syncs = handshake?.syncs;
    const syncDocs = syncs ? DOC_NAMES.filter((d) => syncs[d] !== undefined) : [];
    const subscribing = handshake?.subscribing ?? subscribe(socket, socket.data.actor.role, socket.data.interviewId);
    void join(socket, room, subscribing, syncDocs);
    // After join() has set the socket's inChannels, which an answer waits for.
    for (const doc of syncDocs) answerHandshakeSync(socket, doc, syncs![doc]!);
    recheckRevocation(socket);
  });

  /**
   * A revoke drops the sockets connected on its invites (drop-sockets.ts), and one
   * committed while this socket's handshake was past its own check found it
   * not connected yet. Looked at again now that any later revoke finds it.
   */
  function recheckRevocation(socket: DuetSocket): void {
    assertNotRevoked(ctx, socket.data.claims).catch((err: unknown) => {
      if (!(err instanceof DuetError) || err.code !== 'invite_revoked' || socket.disconnected) return;
      socket.emit('error', err.toBody().error);
      socket.disconnect(true);
    });
  }

  /** A sync asked in the handshake, answered as a `doc:sync` event. */
  function answerHandshakeSync(socket: DuetSocket, doc: DocName, stateVector: Uint8Array): void {
    answerSync(ctx, socket, doc, stateVector).then(
      (reply) => socket.emit('doc:sync', { doc, ...reply }),
      (err: unknown) => {
        const body = toErrorBody(err, ctx);
        ctx.metrics.errors.inc({ code: body.error.code });
        socket.emit('doc:sync', { doc, ...body });
      },
    );
  }

  /**
   * Past the middlewares nothing reads the upgrade request or the token
   * again (the claims are in socket.data), yet Socket.IO would keep both for
   * the connection's lifetime: the request's object graph is a few KiB on
   * every idle socket (Socket.IO's own memory advice), and a token left in
   * memory is one more copy of a credential.
   */
  function forgetHandshakeLeftovers(socket: DuetSocket): void {
    const request = socket.conn.request as IncomingMessage | null;
    if (request) {
      // engine.io's stand-in response for the upgrade keeps the request as
      // long as the connection lives (through a 'close' listener on the TCP
      // socket): its headers, raw and parsed, are most of what it holds.
      request.headers = {};
      // Left as they were, they would be rebuilt from a raw list now empty (and throw).
      request.headersDistinct = {};
      request.rawHeaders = [];
    }
    (socket.conn as { request: unknown }).request = null;
    socket.handshake.headers = {};
    // The token, and the state vectors of `auth.sync` (parsed already): up to
    // tens of KiB. A new object, not deletes, which would turn this one into a
    // dictionary (a quarter of a KiB on every socket).
    socket.handshake.auth = {};
  }

  /**
   * `subscribing`: the socket's subscription to the interview's channels;
   * `syncing`: the documents of the handshake's `auth.sync`, answered apart (told in `session`).
   */
  async function join(socket: DuetSocket, room: Promise<Room>, subscribing: Promise<void>, syncing: DocName[]): Promise<void> {
    const { actor, interviewId } = socket.data;
    // Counted in the room as soon as it loads; a join that fails or is left
    // before it completes must give that back (a joined socket's leave does).
    let givenBack = false;
    const giveBack = () => {
      if (socket.data.joined || givenBack) return;
      givenBack = true;
      // Whether the room loaded before the failure or loads after it.
      room.then((r) => ctx.rooms.release(r), () => {});
    };
    /** The joiner's row being written; once it is, the lists must be read again, whatever became of the join. */
    let written: Promise<void> | undefined;
    let admit!: () => void;
    let refuse!: (err: unknown) => void;
    socket.data.admitted = new Promise<void>((resolve, reject) => {
      admit = resolve;
      refuse = reject;
    });
    socket.data.admitted.catch(() => {}); // the events waiting for it report it
    try {
      const at = new Date().toISOString();
      // What `session` needs, all at once: the room's documents, recent
      // chat, the participants, and the socket in its channels (a Redis
      // round trip on the sharded adapter).
      const subscribed = subscribing.then(() => {
        // Broadcasts reach a socket once it is connected as well as
        // subscribed (Socket.IO's adapter skips sockets not connected yet),
        // so the time is taken no earlier than the connection: now.
        socket.data.subscribedAt = performance.now();
      });
      socket.data.inChannels = subscribed.catch(() => {
        throw new DuetError('unavailable', 'could not join the interview; retry later');
      });
      socket.data.inChannels.catch(() => {}); // the join reports it below
      // The joiner's row is written alongside, not waited for (a commit):
      // `session` lists the joiner from the actor itself (withParticipant).
      // Everyone's lists, this socket's included, are read again once the
      // row is written and `session` sent (participantLists.changed below),
      // so a list read here that misses a joiner at once is not the last word.
      written = ctx.store.upsertParticipant(interviewId, actor, at);
      written.catch(() => {}); // awaited below
      // The interview (again, not the handshake's read) and the chat are
      // read once the socket is in its channels: a change or message
      // committed after the read then reaches it as a broadcast (the client
      // keeps those that come before `session`), and one committed before is
      // in the read. Read earlier, one made in between reached it neither way.
      const [joined, fresh, listed, chat] = await Promise.all([
        room,
        subscribed.then(() => ctx.store.getInterview(interviewId)),
        listParticipants(ctx, interviewId).then((read) => read.list),
        subscribed.then(() => ctx.store.recentChat(interviewId, visibleChannels(actor.role), LIMITS.sessionChatMessages)),
      ]);
      if (socket.disconnected) {
        refuse(new DuetError('unavailable', 'the connection closed while joining'));
        giveBack();
        // Its disconnect told everyone already, maybe before its row was written.
        written.then(() => participantLists.changed(interviewId), () => {});
        return;
      }
      socket.data.joined = true;
      // A change published on this node while the read was on its way (the room's copy) can be newer than what it read.
      const interview = newerInterview(joined.interview, fresh);
      joined.interview = interview;
      socket.emit('session', {
        interview,
        you: actor,
        participants: withParticipant(listed, actor, at),
        chat: chat.map(chatMessageOf),
        protocol: PROTOCOL_VERSION,
        handshakeSync: syncing,
        runLanguages: ctx.runner.languages(),
        serverTime: new Date().toISOString(),
      });
      // The socket was answered from a cold load's stored bytes before `session`: this node's own apply can go now.
      if (socket.data.sentStored) joined.applyReadSoon(reportApplyFailure(ctx, interviewId));
      sendAwarenessState(socket, joined, 'main');
      if (can.readDoc(actor.role, 'notes')) sendAwarenessState(socket, joined, 'notes');
      // Not awaited: asking other nodes about a run must not hold up the join.
      sendRunnerState(ctx, socket).catch((err) => ctx.log.warn({ err, interviewId }, 'could not send the runner state'));
      await written;
      // Stamped now: events' times rise with their seqs, which the replay's time search relies on.
      if (interview.status === 'open') await logJoin(socket, actor, interviewId);
      socket.data.admittedYet = true;
      admit();
      // A list read from here on has this joiner's row.
      participantLists.changed(interviewId);
    } catch (err) {
      const e = err instanceof DuetError ? err : new DuetError('unavailable', 'could not open the interview; retry later');
      refuse(e);
      if (!(err instanceof DuetError)) ctx.log[logLevelOf(err)]({ err, interviewId }, 'join failed');
      giveBack();
      socket.emit('error', e.toBody().error);
      socket.disconnect(true);
      written?.then(() => participantLists.changed(interviewId), () => {});
    }
  }

  /** Commits the join (what the socket logs waits for it); an interview that ended meanwhile logs no join, and that is no failure. */
  async function logJoin(socket: DuetSocket, actor: Actor, interviewId: string): Promise<void> {
    try {
      // `conn` pairs the join with its connection's leave: one person can be in twice (two tabs).
      // `node`: whose leave to log for it, should this node die (dead-nodes.ts); noted
      // on the socket before the commit, so giving up that id closes it, even mid-commit.
      const node = (socket.data.node = liveness.id);
      await ctx.writer.append(interviewId, { type: 'join', at: new Date().toISOString(), actor, data: { conn: socket.id, node } });
    } catch (err) {
      if (!(err instanceof DuetError && err.code === 'interview_ended')) throw err;
    }
  }

  // Expired tokens: one sweep per node each second, rather than a timer per
  // socket (heap on every idle connection). A socket outlives its token by
  // under a second.
  const sweep = setInterval(() => {
    const now = Date.now() / 1000;
    for (const socket of io.of('/').sockets.values()) {
      if (socket.data.claims.exp > now) continue;
      socket.emit('error', { code: 'token_expired', message: 'your token has expired; rejoin with a new invite' });
      socket.disconnect(true);
    }
  }, 1000);
  sweep.unref();
  return {
    stopSweeps: () => clearInterval(sweep),
    nodesExited: (ids) => liveness.exited(ids),
    close: async () => {
      clearInterval(sweep);
      await liveness.stop();
    },
  };
}

