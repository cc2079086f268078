/** What to do with a snapshot that failed. */
import type { ServerContext } from '../context.js';

/**
 * A warning, unless the interview was deleted meanwhile (retention or
 * DELETE): its snapshots went with it, and its sockets' leaves snapshot into
 * nothing. Anything else (the database down) is worth a look.
 */
export function reportSnapshotFailure(ctx: Pick<ServerContext, 'store' | 'log'>, interviewId: string): (err: unknown) => Promise<void> {
  return async (err) => {
    const deleted = await ctx.store.getInterview(interviewId).then(
      (interview) => interview === undefined,
      () => false,
    );
    if (!deleted) ctx.log.warn({ err, interviewId }, 'snapshot failed');
  };
}
