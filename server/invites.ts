/**
 * Revoking an invite. An interviewer's invite can itself mint invites, so
 * revoking it revokes, transitively, every invite minted with it: otherwise
 * a departed co-interviewer keeps the room through a link they made for
 * themselves before they were revoked (docs/security.md).
 */
import { DuetError } from '../shared/errors.js';
import type { Interview } from '../shared/protocol.js';
import { recordIdSchema, type TokenClaims } from '../shared/schemas.js';
import { inviteRevoked } from './access.js';
import type { ServerContext } from './context.js';
import { dropSockets } from './realtime/drop-sockets.js';
import type { Invite } from './store/store.js';

/**
 * Seconds an invite made by `claims` lasts: as asked, but an invite made on an
 * invite's token expires with that invite, as it is revoked with it. A time-boxed
 * co-interviewer cannot hand out access that outlives their own. A person's own
 * token (the CLI's, an identity provider's, the one creating an interview
 * answers) is a session, not a limit, and has no invite behind it.
 */
export async function inviteLifetime(ctx: ServerContext, interviewId: string, claims: TokenClaims, askedSeconds: number): Promise<number> {
  // Invite subs are minted per invite (u_...), so the caller's invite is the one with their sub.
  const own = (await ctx.store.listInvites(interviewId)).find((invite) => invite.sub === claims.sub);
  if (!own) return askedSeconds;
  const left = Math.floor((Date.parse(own.expiresAt) - Date.now()) / 1000);
  if (left < 1) throw new DuetError('token_expired', 'the invite your token came from has expired');
  return Math.min(askedSeconds, left);
}

/** The invite, revoked, and the invites minted with it (now revoked too); undefined when there is no such invite. */
export async function revokeInvite(
  ctx: ServerContext,
  interview: Interview,
  inviteId: string,
): Promise<{ invite: Invite; minted: Invite[] } | undefined> {
  if (!recordIdSchema.safeParse(inviteId).success) return undefined;
  const at = new Date().toISOString();
  const invite = await ctx.store.revokeInvite(interview.id, inviteId, at);
  if (!invite) return undefined;
  const minted: Invite[] = [];
  const revoked = new Set([invite.id]);
  // Invites of one interview are few (one per link handed out): one read, then follow createdBy.
  const all = await ctx.store.listInvites(interview.id);
  const bySub = new Set([invite.sub]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const other of all) {
      if (revoked.has(other.id) || !bySub.has(other.createdBy)) continue;
      minted.push((await ctx.store.revokeInvite(interview.id, other.id, at)) ?? other);
      revoked.add(other.id);
      bySub.add(other.sub);
      grew = true;
    }
  }
  // Whoever is in the room on one of these invites leaves now, on every node.
  dropSockets(ctx, { interviewId: interview.id, error: inviteRevoked().toBody().error, inviteIds: [...revoked] });
  return { invite, minted };
}
