/** Token checks that need the store: a revoked invite stops working everywhere at once. */
import { DuetError } from '../shared/errors.js';
import type { TokenClaims } from '../shared/schemas.js';
import type { ServerContext } from './context.js';

export async function verifyToken(ctx: Pick<ServerContext, 'tokens' | 'store'>, token: string): Promise<TokenClaims> {
  const claims = await ctx.tokens.verify(token);
  await assertNotRevoked(ctx, claims);
  return claims;
}

export function inviteRevoked(): DuetError {
  return new DuetError('invite_revoked', 'this invite has been revoked');
}

/** For callers that verify the signature themselves and read the store alongside this check. */
export async function assertNotRevoked(ctx: Pick<ServerContext, 'store'>, claims: TokenClaims): Promise<void> {
  if (claims.jti !== undefined && claims.iid !== undefined && (await ctx.store.isInviteRevoked(claims.jti))) throw inviteRevoked();
}
