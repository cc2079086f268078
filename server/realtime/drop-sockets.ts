/**
 * Dropping an interview's sockets on every node: all of them (the interview
 * was deleted) or those on some invites (revoked). Each node drops its own,
 * told with a broadcast, rather than one node listing every node's sockets
 * with fetchSockets: that waits for every node counted, so one stuck node
 * failed the revoke or the delete (after the adapter's 5 s) once the rows
 * were already gone.
 */
import type { WireError } from '../../shared/errors.js';
import { channelOf, type ServerContext } from '../context.js';

const DROP = 'duet:sockets:drop';

interface Drop {
  interviewId: string;
  error: WireError;
  /** Only the sockets joined on these invites (the token's `jti`); all when absent. */
  inviteIds?: string[];
}

export function dropSockets(ctx: ServerContext, drop: Drop): void {
  dropHere(ctx, drop);
  ctx.peers?.tell(DROP, drop);
}

/** Drops what other nodes ask to be dropped here. */
export function registerSocketDrops(ctx: ServerContext): void {
  ctx.peers?.on(DROP, (m) => {
    const drop = m as Partial<Drop> | undefined;
    if (typeof drop?.interviewId !== 'string' || typeof drop.error?.code !== 'string') return;
    if (drop.inviteIds !== undefined && !Array.isArray(drop.inviteIds)) return;
    dropHere(ctx, drop as Drop);
  });
}

function dropHere(ctx: ServerContext, { interviewId, error, inviteIds }: Drop): void {
  const ids = ctx.io.sockets.adapter.rooms.get(channelOf.all(interviewId));
  if (!ids) return;
  const only = inviteIds && new Set(inviteIds);
  // Copied first: a disconnect takes the socket out of the set being read.
  for (const id of [...ids]) {
    const socket = ctx.io.sockets.sockets.get(id);
    if (!socket) continue;
    if (only && (socket.data.claims?.jti === undefined || !only.has(socket.data.claims.jti))) continue;
    socket.emit('error', error);
    socket.disconnect(true);
  }
}
