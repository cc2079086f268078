/**
 * Deleting interviews: on request (a candidate's deletion request, through
 * `DELETE /api/interviews/:id`) and by the retention sweep, which deletes
 * interviews ended more than RETENTION_DAYS ago. Every node sweeps; two nodes
 * deleting the same interview is harmless.
 */
import type { Actor } from '../shared/protocol.js';
import type { ServerContext } from './context.js';
import { dropSockets } from './realtime/drop-sockets.js';
import { stopRunAfterEnd } from './realtime/runs.js';

const DAY_MS = 24 * 3600 * 1000;
/** How often a node sweeps (and once right after it starts). */
export const RETENTION_SWEEP_MS = 3600 * 1000;

/**
 * Deletes the interview with everything it owns (events, snapshots, participants,
 * invites: ON DELETE CASCADE), then drops its live sockets and, deleted by
 * someone (`by`), stops its run on every node. Deleting first means a socket
 * that reconnects finds nothing to join, and a run that starts meanwhile
 * cannot be logged.
 */
export async function deleteInterview(ctx: ServerContext, interviewId: string, by?: Actor): Promise<boolean> {
  const deleted = await ctx.store.deleteInterview(interviewId);
  if (!deleted) return false;
  ctx.finalFiles.forget(interviewId);
  dropSockets(ctx, { interviewId, error: { code: 'not_found', message: 'this interview has been deleted' }, all: true });
  // A request's delete may catch an open interview mid-run; the sweep deletes
  // only interviews ended long ago, whose runs stopped at their end, and asks
  // the other nodes about none of them.
  if (by) stopRunAfterEnd(ctx, interviewId, by);
  ctx.log.info({ interviewId }, 'interview deleted');
  return true;
}

/** Deletes every interview ended before `now - days`; returns how many. */
export async function sweepExpired(ctx: ServerContext, days: number, now = Date.now()): Promise<number> {
  const cutoff = new Date(now - days * DAY_MS).toISOString();
  let count = 0;
  for (;;) {
    const ids = await ctx.store.listEndedBefore(cutoff, 100);
    for (const id of ids) if (await deleteInterview(ctx, id)) count++;
    if (ids.length < 100) return count;
  }
}

export interface RetentionSweeper {
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>;
}

/** The periodic sweep, owned by createServer; does nothing when RETENTION_DAYS is unset. */
export function startRetentionSweeper(ctx: ServerContext, days: number | undefined, everyMs = RETENTION_SWEEP_MS): RetentionSweeper {
  if (days === undefined) return { stop: async () => {} };
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const sweep = () => {
    running = sweepExpired(ctx, days).then(
      (n) => {
        if (n > 0) ctx.log.info({ deleted: n, days }, 'retention sweep');
      },
      (err: unknown) => ctx.log.warn({ err }, 'retention sweep failed; retrying at the next one'),
    );
  };
  const first = setTimeout(sweep, 0);
  const timer = setInterval(sweep, everyMs);
  // The sweep never keeps a process alive on its own.
  first.unref();
  timer.unref();
  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}
