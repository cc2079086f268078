/**
 * Dropping an interview's sockets on every node: all of them (the interview
 * was deleted) or those on some invites (revoked). Each node drops its own,
 * told with a broadcast, rather than one node listing every node's sockets
 * with fetchSockets: that waits for every node counted, so one stuck node
 * failed the revoke or the delete (after the adapter's 3-5 s) once the rows
 * were already gone.
 */
import type { WireError } from '../../shared/errors.js';
import { channelOf, socketsHere, type ServerContext } from '../context.js';

const DROP = 'duet:sockets:drop';

/** Which sockets: every one in the interview, or those joined on these invites (the token's `jti`). */
type Which = { all: true } | { inviteIds: string[] };
type Drop = { interviewId: string; error: WireError } & Which;

export function dropSockets(ctx: ServerContext, drop: Drop): void {
  const matches = matcher(drop);
  dropHere(ctx, drop.interviewId, drop.error, matches);
  if (!ctx.peers) return;
  ctx.peers.tell(DROP, drop);
  // Cluster workers all run one build; nodes sharing Redis may not.
  if (!ctx.config.redisUrl) return;
  // Nodes from before the broadcast (a rolling upgrade from before 4d8bb8b)
  // do not hear it, but answer fetchSockets. Asked after it, so a newer node
  // has dropped its sockets before it answers; not waited for, as one stuck
  // node fails it (and that failure says nothing the broadcast has not done).
  ctx.io
    .in(channelOf.all(drop.interviewId))
    .fetchSockets()
    .then((sockets) => {
      for (const s of sockets) {
        if (!matches(s.data.claims?.jti)) continue;
        s.emit('error', drop.error);
        s.disconnect(true);
      }
    })
    .catch(() => {});
}

/** Drops what other nodes ask to be dropped here. */
export function registerSocketDrops(ctx: ServerContext): void {
  ctx.peers?.on(DROP, (m) => {
    const drop = m as Partial<{ interviewId: unknown; error: Partial<WireError>; all: unknown; inviteIds: unknown }> | undefined;
    if (typeof drop?.interviewId !== 'string' || typeof drop.error?.code !== 'string' || typeof drop.error.message !== 'string') return;
    const which: Which | undefined =
      drop.all === true ? { all: true } : Array.isArray(drop.inviteIds) ? { inviteIds: drop.inviteIds.filter((id): id is string => typeof id === 'string') } : undefined;
    if (!which) return;
    // Every socket: the interview was deleted (retention.ts), and its files go too.
    if ('all' in which) ctx.finalFiles.forget(drop.interviewId);
    dropHere(ctx, drop.interviewId, drop.error as WireError, matcher(which));
  });
}

function matcher(which: Which): (jti: string | undefined) => boolean {
  if ('all' in which) return () => true;
  const ids = new Set(which.inviteIds);
  return (jti) => jti !== undefined && ids.has(jti);
}

function dropHere(ctx: ServerContext, interviewId: string, error: WireError, matches: (jti: string | undefined) => boolean): void {
  for (const socket of socketsHere(ctx, interviewId)) {
    if (!matches(socket.data.claims?.jti)) continue;
    socket.emit('error', error);
    socket.disconnect(true);
  }
}
