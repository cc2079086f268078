/**
 * Tokens: verified with the node's HS256 secret, or with RS256 against a
 * configured public key (an organisation's identity provider signs those).
 * Invites and creators' tokens are signed by the node with its HS256 secret.
 * Each algorithm is bound to its own key, so an HS256 token "signed" with the
 * public key (the classic confusion attack) never verifies.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errors, importSPKI, jwtVerify, SignJWT, type CryptoKey, type JWTHeaderParameters, type KeyObject } from 'jose';
import type { Logger } from 'pino';
import { DuetError } from '../shared/errors.js';
import type { Role } from '../shared/roles.js';
import { tokenClaimsSchema, type TokenClaims } from '../shared/schemas.js';
import { reasonOf, StartError } from './start-failure.js';

export interface TokenInput {
  sub: string;
  name: string;
  role: Role;
  iid?: string;
  jti?: string;
}

export interface TokenService {
  verify(token: string): Promise<TokenClaims>;
  sign(input: TokenInput, expiresInSeconds: number): Promise<string>;
}

export async function createTokenService(options: { secret: string; publicKeyPem?: string | undefined }): Promise<TokenService> {
  // Imported once: given raw bytes, jose imports the key again on every call.
  const secret = await crypto.subtle.importKey('raw', new TextEncoder().encode(options.secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ]);
  const publicKey: CryptoKey | KeyObject | undefined = options.publicKeyPem
    ? await importSPKI(options.publicKeyPem, 'RS256')
    : undefined;
  const algorithms = publicKey ? ['HS256', 'RS256'] : ['HS256'];

  const keyFor = (header: JWTHeaderParameters) => {
    if (header.alg === 'HS256') return secret;
    if (header.alg === 'RS256' && publicKey) return publicKey;
    throw new DuetError('invalid_token', 'unsupported token algorithm');
  };

  return {
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, keyFor, { algorithms, requiredClaims: ['exp', 'sub'] });
        const claims = tokenClaimsSchema.safeParse(payload);
        if (!claims.success) throw new DuetError('invalid_token', 'token claims are missing or malformed');
        return claims.data;
      } catch (err) {
        if (err instanceof DuetError) throw err;
        if (err instanceof errors.JWTExpired) throw new DuetError('token_expired', 'token has expired');
        throw new DuetError('invalid_token', 'token is not valid');
      }
    },
    async sign(input, expiresInSeconds) {
      const jwt = new SignJWT({ name: input.name, role: input.role, ...(input.iid ? { iid: input.iid } : {}) })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(input.sub)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds);
      if (input.jti) jwt.setJti(input.jti);
      return jwt.sign(secret);
    },
  };
}

/**
 * The configured secret, or the one generated on first start and kept in the
 * data directory (mode 0600) so tokens survive restarts. `onCreated` hears of
 * a secret made here: only what reads this directory accepts its tokens.
 */
export function resolveSecret(configured: string | undefined, dataDir: string, onCreated?: (file: string) => void): string {
  if (configured) return configured;
  const file = join(dataDir, 'jwt-secret');
  try {
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const secret = randomBytes(48).toString('base64url');
    // 'wx' fails if another process created it meanwhile; then read theirs.
    try {
      writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
      onCreated?.(file);
      return secret;
    } catch {
      return readFileSync(file, 'utf8').trim();
    }
  } catch (err) {
    throw new StartError(`cannot keep the JWT secret in DATA_DIR (${dataDir}): ${reasonOf(err)}`, { cause: err });
  }
}

/** For `resolveSecret`'s `onCreated` in a node: says where the secret went, and what it means for other nodes. */
export const logMadeSecret = (log: Logger) => (file: string) =>
  log.info({ file }, 'made a JWT secret for this data directory (set JWT_SECRET to share one between nodes)');

export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)$/i);
  return match?.[1];
}

export function randomId(bytes = 9): string {
  return randomBytes(bytes).toString('base64url');
}
