/** Who has joined an interview, and who is online now (across every node). */
import type { Participant } from '../../shared/protocol.js';
import { channelOf, type ServerContext } from '../context.js';

export async function listParticipants(ctx: ServerContext, interviewId: string): Promise<Participant[]> {
  const [known, sockets] = await Promise.all([
    ctx.store.listParticipants(interviewId),
    // With a Redis adapter this asks every node.
    ctx.io.in(channelOf.all(interviewId)).fetchSockets(),
  ]);
  const online = new Set(sockets.map((s) => s.data.actor?.sub));
  return known.map((p) => ({ ...p, online: online.has(p.sub) }));
}

export async function broadcastParticipants(ctx: ServerContext, interviewId: string): Promise<void> {
  ctx.io.to(channelOf.all(interviewId)).emit('participants', await listParticipants(ctx, interviewId));
}
