/** Tokens the way an organisation's backend would sign them: HS256 with the nodes' JWT_SECRET. */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';

export type BenchRole = 'admin' | 'interviewer' | 'candidate' | 'observer';

export async function signToken(secret: string, claims: { role: BenchRole; name: string; iid?: string }, ttlSeconds = 6 * 3600): Promise<string> {
  const jwt = new SignJWT({ name: claims.name, role: claims.role, ...(claims.iid ? { iid: claims.iid } : {}) })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(`bench_${randomUUID().slice(0, 12)}`)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds);
  return jwt.sign(new TextEncoder().encode(secret));
}
