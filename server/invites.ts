/**
 * Revoking an invite. An interviewer's invite can itself mint invites, so
 * revoking it revokes, transitively, every invite minted with it: otherwise
 * a departed co-interviewer keeps the room through a link they made for
 * themselves before they were revoked (docs/security.md).
 */
import { DuetError } from '../shared/errors.js';
import type { Interview } from '../shared/protocol.js';
import type { InviteRole } from '../shared/roles.js';
import { recordIdSchema, type TokenClaims } from '../shared/schemas.js';
import { inviteRevoked } from './access.js';
import { randomId } from './auth.js';
import type { ServerContext } from './context.js';
import { dropSockets } from './realtime/drop-sockets.js';
import type { Invite } from './store/store.js';

/**
 * Makes an invite on `claims`' behalf. It lasts as asked, but one made on an
 * invite's token expires with that invite, as it is revoked with it: a
 * time-boxed co-interviewer cannot hand out access that outlives their own.
 * A person's own token (the CLI's, an identity provider's, the one creating
 * an interview answers) is a session, not a limit, and has no invite behind it.
 *
 * Made while the caller's invite (or one it came from) is being revoked, it
 * is revoked too: a revoke marks its invite, then reads the invites of the
 * interview once to revoke those minted from it, so one inserted after that
 * read finds the mark on one of its ancestors when it looks again here.
 */
export async function mintInvite(
  ctx: ServerContext,
  interview: Interview,
  claims: TokenClaims,
  request: { role: InviteRole; name: string; expiresIn?: number | undefined },
): Promise<{ invite: Invite; ttl: number }> {
  // Invite subs are minted per invite (u_...), so the caller's invite is the one with their sub.
  const own = (await ctx.store.listInvites(interview.id)).find((invite) => invite.sub === claims.sub);
  let ttl = request.expiresIn ?? ctx.config.inviteTtlSeconds;
  if (own) {
    const left = Math.floor((Date.parse(own.expiresAt) - Date.now()) / 1000);
    if (left < 1) throw new DuetError('token_expired', 'the invite your token came from has expired');
    ttl = Math.min(ttl, left);
  }
  const invite: Invite = {
    id: randomId(),
    interviewId: interview.id,
    role: request.role,
    name: request.name,
    sub: `u_${randomId()}`,
    createdAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + ttl * 1000).toISOString(),
    createdBy: claims.sub,
    revokedAt: null,
  };
  await ctx.store.createInvite(invite);
  if (own && revokedUpstream(own, await ctx.store.listInvites(interview.id))) {
    await revokeInvite(ctx, interview, invite.id);
    throw inviteRevoked();
  }
  return { invite, ttl };
}

/** Whether the invite, or any invite it was minted from (its maker's, theirs, ...), is revoked. */
function revokedUpstream(invite: Invite, all: Invite[]): boolean {
  const bySub = new Map(all.map((i) => [i.sub, i]));
  const seen = new Set<string>();
  for (let at: Invite | undefined = bySub.get(invite.sub) ?? invite; at && !seen.has(at.id); at = bySub.get(at.createdBy)) {
    if (at.revokedAt !== null) return true;
    seen.add(at.id);
  }
  return false;
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
