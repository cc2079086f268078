/** Who has joined an interview, and who is online now (across every node). */
import type { Actor, Participant } from '../../shared/protocol.js';
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

/** The list with `actor` in it, online, under the name and role its row now has. */
export function withParticipant(list: Participant[], actor: Actor): Participant[] {
  const me: Participant = { sub: actor.sub, name: actor.name, role: actor.role, online: true };
  const i = list.findIndex((p) => p.sub === actor.sub);
  return i < 0 ? [...list, me] : list.map((p, k) => (k === i ? me : p));
}

export async function broadcastParticipants(ctx: ServerContext, interviewId: string): Promise<void> {
  ctx.io.to(channelOf.all(interviewId)).emit('participants', await listParticipants(ctx, interviewId));
}
