/** Who has joined an interview, and who is online now (across every node). */
import type { Actor, Participant } from '../../shared/protocol.js';
import { channelOf, type ServerContext } from '../context.js';

/**
 * `joining`: a socket whose own row may not be written yet (its join writes
 * it alongside this read); it is listed, online, as its row will say.
 */
export async function listParticipants(ctx: ServerContext, interviewId: string, joining?: Actor): Promise<Participant[]> {
  const [known, sockets] = await Promise.all([
    ctx.store.listParticipants(interviewId),
    // With a Redis adapter this asks every node.
    ctx.io.in(channelOf.all(interviewId)).fetchSockets(),
  ]);
  const online = new Set(sockets.map((s) => s.data.actor?.sub));
  if (joining) online.add(joining.sub);
  // As the upsert leaves the row: the name and role from this join's token.
  const own = joining && { sub: joining.sub, name: joining.name, role: joining.role };
  const list = known.map((p) => (p.sub === own?.sub ? own : p));
  // Rows are listed in the order first seen: a first join's row is the newest.
  if (own && !known.some((p) => p.sub === own.sub)) list.push(own);
  return list.map((p) => ({ ...p, online: online.has(p.sub) }));
}

export async function broadcastParticipants(ctx: ServerContext, interviewId: string): Promise<void> {
  ctx.io.to(channelOf.all(interviewId)).emit('participants', await listParticipants(ctx, interviewId));
}
