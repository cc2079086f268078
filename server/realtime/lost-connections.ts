/**
 * Connections a dead node took with it. A node killed (or whose host is lost)
 * logs no `leave` for its sockets, so the replay would show their people
 * online until the interview ends. A while after a client that has the
 * document joins an interview again (as a dead node's clients do, on the
 * other nodes; a fresh joiner is no sign of one), this node looks for the
 * interview's joins with no leave, asks every other node which of those
 * connections it holds, and logs a leave (`data.lost`) for each that no node
 * holds. Only when every node counted has answered: one slow to answer may
 * hold some of them (it looks again, a few times, until they all do).
 */
import type { NewEvent } from '../store/store.js';
import type { ServerContext } from '../context.js';

const HELD = 'duet:connections:held';
/** How long the other nodes have to answer. */
const ASK_TIMEOUT_MS = 1500;
/**
 * Looks again while some node does not answer (a lost host's node stays
 * counted until Redis notices its connection gone), at most this often.
 */
const MAX_TRIES = 12;

export interface LostConnections {
  /** Looks for the interview's lost connections after `delayMs`, once however often it is asked meanwhile. */
  sweepSoon(interviewId: string): void;
  close(): void;
}

export function createLostConnections(
  ctx: ServerContext,
  logLeave: (interviewId: string, event: NewEvent) => Promise<void>,
  delayMs: number,
): LostConnections {
  const timers = new Map<string, NodeJS.Timeout>();
  /** Interviews looked at again because a node did not answer, and how many times so far. */
  const tries = new Map<string, number>();
  const heldHere = (conns: unknown): string[] =>
    Array.isArray(conns) ? conns.filter((c): c is string => typeof c === 'string' && ctx.io.sockets.sockets.has(c)) : [];
  ctx.peers?.answer(HELD, heldHere);

  /** The interview's connections with a join and no leave, with who they were. */
  async function openConnections(interviewId: string): Promise<Map<string, NewEvent['actor']>> {
    const [joins, leaves] = await Promise.all([
      ctx.store.readEvents(interviewId, { type: 'join' }),
      ctx.store.readEvents(interviewId, { type: 'leave' }),
    ]);
    const open = new Map<string, NewEvent['actor']>();
    for (const e of joins) if (typeof e.data.conn === 'string') open.set(e.data.conn, e.actor);
    for (const e of leaves) if (typeof e.data.conn === 'string') open.delete(e.data.conn);
    return open;
  }

  /** False when a node did not answer, so nothing could be decided. */
  async function sweep(interviewId: string): Promise<boolean> {
    if ((await ctx.store.getInterview(interviewId))?.status !== 'open') return true;
    const open = await openConnections(interviewId);
    const unheld = [...open.keys()].filter((c) => !ctx.io.sockets.sockets.has(c));
    if (unheld.length === 0) return true;
    const asked = ctx.peers ? await ctx.peers.ask<string[]>(HELD, unheld, { timeoutMs: ASK_TIMEOUT_MS }) : { answers: [], complete: true };
    if (!asked.complete) return false;
    const held = new Set(asked.answers.flatMap((a) => (Array.isArray(a) ? a : [])));
    // Read again: a socket that closed on a live node just now has its own leave on the way.
    const stillOpen = await openConnections(interviewId);
    const at = new Date().toISOString();
    for (const conn of unheld) {
      const actor = stillOpen.get(conn);
      if (!actor || held.has(conn)) continue;
      await logLeave(interviewId, { type: 'leave', at, actor, data: { conn, lost: true } });
    }
    return true;
  }

  function schedule(interviewId: string): void {
    const timer = setTimeout(() => {
      timers.delete(interviewId);
      sweep(interviewId).then(
        (done) => {
          const n = (tries.get(interviewId) ?? 0) + 1;
          if (done || n >= MAX_TRIES) tries.delete(interviewId);
          else if (!timers.has(interviewId)) {
            tries.set(interviewId, n);
            schedule(interviewId);
          }
        },
        (err: unknown) => ctx.log.warn({ err, interviewId }, 'could not look for lost connections'),
      );
    }, delayMs);
    timer.unref();
    timers.set(interviewId, timer);
  }

  return {
    sweepSoon(interviewId) {
      if (!timers.has(interviewId)) schedule(interviewId);
    },
    close() {
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      tries.clear();
    },
  };
}
