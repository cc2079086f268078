/** Bearer-token authentication for every `/api` call. */
import type { Request, RequestHandler } from 'express';
import { DuetError } from '../../shared/errors.js';
import type { TokenClaims } from '../../shared/schemas.js';
import { verifyToken } from '../access.js';
import { bearerToken } from '../auth.js';
import type { ServerContext } from '../context.js';

const CLAIMS = Symbol('claims');

export function authenticate(ctx: ServerContext): RequestHandler {
  return async (req, _res, next) => {
    const token = bearerToken(req.get('authorization'));
    if (!token) throw new DuetError('unauthorized', 'send Authorization: Bearer <token>');
    (req as unknown as Record<symbol, TokenClaims>)[CLAIMS] = await verifyToken(ctx, token);
    next();
  };
}

export function claimsOf(req: Request): TokenClaims {
  const claims = (req as unknown as Record<symbol, TokenClaims | undefined>)[CLAIMS];
  if (!claims) throw new DuetError('unauthorized', 'not authenticated');
  return claims;
}
