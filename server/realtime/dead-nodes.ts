/**
 * Connections a dead node took with it. A node that is killed, or whose host
 * is lost, logs no `leave` for its sockets, and the replay would show their
 * people online until the interview ends. So every node keeps a heartbeat in
 * the database (the `nodes` table, on the database's clock), and each join it
 * logs names it (`data.node`). A node not seen for its NODE_DEAD_AFTER_SECONDS
 * is taken for dead: a live node claims it, logs a leave
 * `{conn, lost: true, lastSeen}` (lastSeen: its last heartbeat) for each of
 * its joins with no leave in interviews still open, and deletes its record.
 * This needs no Redis and works for one node alone, restarted after a crash:
 * it logs its predecessor's leaves.
 *
 * What keeps a live node's connections from being logged as lost:
 * - a node judges others only after its own heartbeats have gone through on
 *   time for the whole threshold: after a database outage, or a stall of
 *   this node, the others' records are stale for the same reason;
 * - the claim itself runs only if the claimer's own record is fresh, on the
 *   database's clock, so a claim that waited out a stalled database claims
 *   nothing;
 * - an id is never used again once others may have taken it for dead: a node
 *   whose record is gone or claimed at its heartbeat, or whose registration
 *   failed (it may have committed all the same), takes a new id and closes
 *   the sockets whose joins were logged under the old one, so they rejoin
 *   and are logged anew.
 * A node cut off from the database while the others are not keeps its
 * clients connected, though nothing they do can be logged; the replay shows
 * them offline from when a live node logs their leaves until their node
 * reaches the database again and they rejoin.
 *
 * In cluster mode the primary sees a worker's process end, so it need not be
 * guessed from silence: it hands the dead worker's node ids to a live worker
 * (`exited`), which logs their leaves a second later instead of after the
 * threshold. Likewise a node on a machine (the same kernel and PID
 * namespace) where another node's process has ended, whether restarted after
 * that crash or running beside it, treats it as exited once a second look
 * has found its record not seen since and it has been silent for a quarter
 * of its threshold and a second (server/realtime/node-process.ts, findEnded
 * below). A statement
 * the dead process had already sent may still commit after that (PostgreSQL
 * finishes a statement waiting on a lock even when its client is gone): so the record is kept, claimed, and swept again by the
 * heartbeat once the threshold has passed, which logs a leave for any join
 * that came in late and forgets the node.
 */
import { randomUUID } from 'node:crypto';
import { DuetError } from '../../shared/errors.js';
import type { ServerContext } from '../context.js';
import type { DeadNode, StoredEvent } from '../store/store.js';
import { hasEnded, thisNodeProcess } from './node-process.js';

export interface NodeLiveness {
  /** This process's id as a node: written into each join it logs. A new one after the others took it for dead. */
  readonly id: string;
  /** Nodes whose process has ended (cluster mode): their connections are logged as left without waiting for the threshold. */
  exited(ids: readonly string[]): void;
  /** Stops the heartbeat; the record stays, so a node that shut down without logging every leave is swept too. */
  stop(): Promise<void>;
}

/** How often a node heartbeats and looks for dead nodes: six beats fit in the threshold. */
export const beatEveryMs = (deadAfterMs: number) => Math.max(250, Math.floor(deadAfterMs / 6));

/** How long after a node's process ended its connections are logged as left (see above). */
const EXITED_GRACE_MS = 1000;

/** `onId`: told this node's id at start and each time it changes (cluster mode: the primary keeps each worker's). */
export function startNodeLiveness(ctx: ServerContext, onId?: (id: string) => void): NodeLiveness {
  const { store, log } = ctx;
  const deadAfterMs = ctx.config.nodeDeadAfterMs;
  const beatMs = beatEveryMs(deadAfterMs);
  let id = randomUUID();
  let registered = false;
  /**
   * Since when this node's heartbeats have gone through on time
   * (performance.now()): undefined after a failure, and restarted after a
   * beat that came late (a slow database, a stalled event loop), since the
   * others' beats may have been held up by the same cause.
   */
  let healthySince: number | undefined;
  let lastBeat: number | undefined;
  /** The beat on its way, if one is; the sweep of dead nodes likewise. */
  let beating: Promise<void> | undefined;
  let sweeping: Promise<void> | undefined;
  let stopped = false;
  /**
   * Nodes known to have exited, not yet swept, each with when it may be
   * (EXITED_GRACE_MS after the word came): they wait for that and for this
   * node's registration. A claim that answers nothing for one (another node's, or
   * this node's own record gone stale) leaves it to the heartbeat's sweep.
   */
  const exited = new Map<string, number>();
  const me = thisNodeProcess();
  /**
   * Nodes of this machine found with their process ended (see findEnded):
   * their record's seen_at then, and when they were first found
   * (performance.now()); confirmed once the next beat's look finds that
   * seen_at unchanged.
   */
  const seenEnded = new Map<string, { seenAt: number; foundAt: number; confirmed: boolean }>();
  /** Records read as ended that beat again since: live processes on a machine cloned from this one. */
  const elsewhere = new Set<string>();
  let finding: Promise<void> | undefined;

  /** Gives up `id` for good: the sockets whose joins were logged under it rejoin under the new one. */
  function renew(): void {
    const old = id;
    id = randomUUID();
    registered = false;
    onId?.(id);
    for (const socket of ctx.io.of('/').sockets.values()) if (socket.data.node === old) socket.conn.close();
  }

  async function beat(): Promise<void> {
    try {
      if (registered && !(await store.heartbeatNode(id))) {
        log.error({ node: id, deadAfterMs }, 'this node was taken for dead (its heartbeat stopped); closing its connections so they rejoin');
        renew();
      }
      if (!registered) {
        try {
          await store.registerNode(id, deadAfterMs, me);
        } catch (err) {
          // It may have committed, and been swept meanwhile: this id is not used again.
          renew();
          throw err;
        }
        registered = true;
      }
    } catch (err) {
      healthySince = lastBeat = undefined;
      log.warn({ err, node: id }, 'node heartbeat failed; not judging other nodes until heartbeats go through again');
      return;
    }
    const now = performance.now();
    if (lastBeat === undefined || now - lastBeat > 2 * beatMs) healthySince = now;
    lastBeat = now;
    // Apart from the beat, like the sweeps: a slow lookup must not space out this node's heartbeats.
    finding ??= findEnded()
      .catch((err: unknown) => log.error({ err }, 'looking for ended nodes on this machine failed'))
      .finally(() => (finding = undefined));
    if (healthySince === undefined || now - healthySince < deadAfterMs || sweeping) {
      sweepExited();
      return;
    }
    // Apart from the beats: logging a big node's leaves must not hold up this node's own heartbeat.
    // First, so exited ones whose claims keep coming back empty (not silent enough yet) cannot
    // hold it off beat after beat; they go right after it.
    sweeping = sweepDead().finally(() => {
      sweeping = undefined;
      sweepExited();
    });
  }

  async function sweepDead(): Promise<void> {
    try {
      for (const dead of await store.claimDeadNodes(id, deadAfterMs, 2 * beatMs)) await sweep(dead);
    } catch (err) {
      // Claimed by this node still: claimed again at the next beat.
      log.warn({ err }, "could not log a dead node's connections as left; retrying at the next heartbeat");
    }
  }

  /**
   * Nodes on this machine whose process has ended: looked for at every beat,
   * so a node restarted after a crash finds its predecessor as it starts, and
   * a node running beside one that dies finds it at its next beat. (A
   * cluster's primary sees its workers die, and hands them over sooner.)
   * A machine cloned from another's memory shares its boot id and PIDs, and
   * reads a live node there as ended: so one is swept, like an exited node,
   * only once the claim finds it silent for a quarter of its threshold and a
   * second (the claim's `silent`, more than one of its beats), and the next
   * beat's look has found its record not seen since the first: that narrows
   * the window in which a live node, silent a while (a stall, a database
   * outage just over), is taken for ended. One seen to beat again is left to
   * the threshold for good: rarely, that is a dead node whose last heartbeat
   * committed after it died (see above), which then waits for the threshold.
   */
  async function findEnded(): Promise<void> {
    if (!me) return;
    let listed: Awaited<ReturnType<typeof store.nodesInPidSpace>>;
    try {
      listed = await store.nodesInPidSpace(me.space);
    } catch (err) {
      log.warn({ err }, 'could not look for ended nodes on this machine; retrying at the next heartbeat');
      return;
    }
    // A claimed record is not listed: claimed (here or by another node) or forgotten, it is no longer this node's to try.
    const listedIds = new Set(listed.map((node) => node.id));
    for (const dead of seenEnded.keys()) if (!listedIds.has(dead)) seenEnded.delete(dead);
    for (const other of elsewhere) if (!listedIds.has(other)) elsewhere.delete(other);
    const now = performance.now();
    let found = false;
    for (const node of listed) {
      if (node.id === id || elsewhere.has(node.id)) continue;
      const seen = seenEnded.get(node.id);
      if (!seen) {
        if (!hasEnded(node)) continue;
        seenEnded.set(node.id, { seenAt: node.seenAt, foundAt: now, confirmed: false });
        found = true;
      } else if (node.seenAt !== seen.seenAt) {
        seenEnded.delete(node.id);
        elsewhere.add(node.id);
      } else if (now - seen.foundAt >= beatMs / 2) {
        // The next beat's look, not one bunched up behind a late one.
        seen.confirmed = true;
      }
    }
    // Confirmed at the next beat; by then a record last seen just before its process ended is mostly silent enough.
    if (found) setTimeout(sweepExited, 1.5 * beatMs + 1100).unref();
    sweepExited();
  }

  /**
   * Needs no healthy stretch of beats, unlike sweepDead: these nodes are not
   * judged by their silence alone (the ones read as ended from their process
   * by a short one). The claim still needs this node's own record fresh.
   */
  function sweepExited(): void {
    if (!registered || sweeping || stopped || exited.size + seenEnded.size === 0) return;
    const now = performance.now();
    const ids = [...exited].filter(([, due]) => due <= now).map(([dead]) => dead);
    // One handed over as exited is claimed as such, not twice.
    const gone = [...seenEnded].filter(([dead, seen]) => seen.confirmed && !exited.has(dead)).map(([dead]) => dead);
    if (ids.length + gone.length === 0) return;
    for (const dead of ids) exited.delete(dead);
    sweeping = (async () => {
      try {
        const claimed = [
          ...(await store.claimDeadNodes(id, deadAfterMs, 2 * beatMs, ids)),
          ...(await store.claimDeadNodes(id, deadAfterMs, 2 * beatMs, gone, { silent: true })),
        ];
        // Those of `gone` not claimed (not silent long enough yet) are tried again at the next beat.
        for (const dead of claimed) {
          seenEnded.delete(dead.id);
          await sweep(dead, { forget: false });
        }
      } catch (err) {
        // A claim that went through is this node's to take again.
        for (const dead of ids) exited.set(dead, 0);
        log.warn({ err, nodes: ids }, "could not log an exited node's connections as left; retrying at the next heartbeat");
      }
    })().finally(() => (sweeping = undefined));
  }

  /** Logs a leave for each of a dead node's connections that has none, then forgets the node (unless told not to: see above). */
  async function sweep(dead: DeadNode, { forget = true } = {}): Promise<void> {
    const byInterview = new Map<string, StoredEvent[]>();
    for (const join of await store.joinsLoggedBy(dead.id)) {
      const joins = byInterview.get(join.interviewId) ?? [];
      joins.push(join);
      byInterview.set(join.interviewId, joins);
    }
    const counts = await Promise.all([...byInterview].map(([interviewId, joins]) => logLost(interviewId, joins, dead.seenAt)));
    if (forget) await store.forgetNode(dead.id);
    const left = counts.reduce((a, b) => a + b, 0);
    if (!forget && left === 0) return;
    log.warn({ node: dead.id, lastSeen: dead.seenAt, left, interviews: byInterview.size }, "a dead node's connections were logged as left");
  }

  /**
   * Stamped now, when it is logged (events' times rise with their seqs), up
   * to the threshold after the connection ended: `lastSeen` tells the replay
   * how much earlier that may have been. Its node was alive then, and had the
   * connection closed before, would most likely have logged its leave itself.
   */
  async function logLost(interviewId: string, joins: StoredEvent[], lastSeen: string): Promise<number> {
    const leaves = await store.readEvents(interviewId, { type: 'leave' });
    const closed = new Set(leaves.map((e) => e.data.conn));
    const at = new Date().toISOString();
    let logged = 0;
    for (const join of joins) {
      if (typeof join.data.conn !== 'string' || closed.has(join.data.conn)) continue;
      try {
        await ctx.writer.append(interviewId, { type: 'leave', at, actor: join.actor, data: { conn: join.data.conn, lost: true, lastSeen } });
        logged++;
      } catch (err) {
        // Ended meanwhile: the end took everyone offline.
        if (err instanceof DuetError && err.code === 'interview_ended') return logged;
        throw err;
      }
    }
    return logged;
  }

  // A beat still on its way (a slow database) is not queued behind: the next tick just skips.
  const tick = () => {
    if (beating || stopped) return;
    beating = beat()
      .catch((err: unknown) => log.error({ err }, 'node heartbeat failed'))
      .finally(() => (beating = undefined));
  };
  tick();
  const timer = setInterval(tick, beatMs);
  timer.unref();
  onId?.(id);

  return {
    get id() {
      return id;
    },
    exited(ids) {
      const due = performance.now() + EXITED_GRACE_MS;
      for (const dead of ids) if (dead !== id) exited.set(dead, due);
      // A little past the due time: timers and performance.now() may disagree by a fraction of a millisecond.
      setTimeout(sweepExited, EXITED_GRACE_MS + 10).unref();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await beating;
      await finding;
      await sweeping;
    },
  };
}
