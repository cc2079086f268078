/**
 * Connections a dead node took with it. A node that is killed, or whose host
 * is lost, logs no `leave` for its sockets, and the replay would show their
 * people online until the interview ends. So every node keeps a heartbeat in
 * the database (the `nodes` table, on the database's clock), and each join it
 * logs names it (`data.node`). A node not seen for NODE_DEAD_AFTER_SECONDS is
 * taken for dead: a live node claims it, logs a leave `{conn, lost: true}`
 * for each of its joins with no leave in interviews still open, and deletes
 * its record. This needs no Redis and works for one node alone, restarted
 * after a crash: it logs its predecessor's leaves.
 *
 * Two rules keep a live node's connections from being taken for lost:
 * - a node judges others only after its own heartbeats have gone through,
 *   without a failure, for the whole threshold: after a database outage every
 *   node's record is stale, and each must have had time to heartbeat again;
 * - a node that was taken for dead all the same (its heartbeat stalled, or
 *   it could not reach the database while the others could) finds its record
 *   gone at its next heartbeat. It takes a new id and closes every transport
 *   it holds, so its clients rejoin, and their joins are logged again: the
 *   log never shows someone offline who is in fact connected, for longer
 *   than that.
 */
import { randomUUID } from 'node:crypto';
import { DuetError } from '../../shared/errors.js';
import type { ServerContext } from '../context.js';
import type { StoredEvent } from '../store/store.js';

export interface NodeLiveness {
  /** This process's id as a node: written into each join it logs. A new one after the others took it for dead. */
  readonly id: string;
  /** Stops the heartbeat; the record stays, so a node that shut down without logging every leave is swept too. */
  stop(): Promise<void>;
}

/** How often a node heartbeats and looks for dead nodes: six beats fit in the threshold. */
export const beatEveryMs = (deadAfterMs: number) => Math.max(250, Math.floor(deadAfterMs / 6));

export function startNodeLiveness(ctx: ServerContext): NodeLiveness {
  const { store, log } = ctx;
  const deadAfterMs = ctx.config.nodeDeadAfterMs;
  let id = randomUUID();
  let registered = false;
  /** Since when every heartbeat has gone through (performance.now()); undefined after a failure. */
  let healthySince: number | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;

  async function beat(): Promise<void> {
    try {
      if (!registered) {
        await store.registerNode(id);
        registered = true;
      } else if (!(await store.heartbeatNode(id))) {
        taken();
        return;
      }
      healthySince ??= performance.now();
    } catch (err) {
      healthySince = undefined;
      log.warn({ err, node: id }, 'node heartbeat failed; not judging other nodes until heartbeats go through again');
      return;
    }
    if (performance.now() - healthySince < deadAfterMs) return;
    try {
      for (const dead of await store.claimDeadNodes(id, deadAfterMs)) await sweep(dead);
    } catch (err) {
      // Claimed by this node still: claimed again at the next beat.
      log.warn({ err }, 'could not log a dead node\'s connections as left; retrying at the next heartbeat');
    }
  }

  /** The others took this node for dead and logged its connections as left: its clients rejoin, logged anew. */
  function taken(): void {
    log.error({ node: id, deadAfterMs }, 'this node was taken for dead (its heartbeat stopped); closing its connections so they rejoin');
    id = randomUUID();
    registered = false;
    healthySince = undefined;
    for (const socket of ctx.io.of('/').sockets.values()) socket.conn.close();
  }

  /** Logs a leave for each of a dead node's connections that has none, then forgets the node. */
  async function sweep(deadId: string): Promise<void> {
    const byInterview = new Map<string, StoredEvent[]>();
    for (const join of await store.joinsLoggedBy(deadId)) {
      const joins = byInterview.get(join.interviewId) ?? [];
      joins.push(join);
      byInterview.set(join.interviewId, joins);
    }
    const counts = await Promise.all([...byInterview].map(([interviewId, joins]) => logLost(interviewId, joins)));
    await store.forgetNode(deadId);
    const left = counts.reduce((a, b) => a + b, 0);
    log.warn({ node: deadId, left, interviews: byInterview.size }, 'a dead node\'s connections were logged as left');
  }

  async function logLost(interviewId: string, joins: StoredEvent[]): Promise<number> {
    const leaves = await store.readEvents(interviewId, { type: 'leave' });
    const closed = new Set(leaves.map((e) => e.data.conn));
    const at = new Date().toISOString();
    let logged = 0;
    for (const join of joins) {
      if (typeof join.data.conn !== 'string' || closed.has(join.data.conn)) continue;
      try {
        await ctx.writer.append(interviewId, { type: 'leave', at, actor: join.actor, data: { conn: join.data.conn, lost: true } });
        logged++;
      } catch (err) {
        // Ended meanwhile: the end took everyone offline.
        if (err instanceof DuetError && err.code === 'interview_ended') return logged;
        throw err;
      }
    }
    return logged;
  }

  let beating = false;
  // A beat still on its way (a slow database) is not queued behind: the next tick just skips.
  const tick = () => {
    if (beating || stopped) return;
    beating = true;
    running = beat()
      .catch((err: unknown) => log.error({ err }, 'node heartbeat failed'))
      .finally(() => (beating = false));
  };
  tick();
  const timer = setInterval(tick, beatEveryMs(deadAfterMs));
  timer.unref();

  return {
    get id() {
      return id;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
