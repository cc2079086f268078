/**
 * The client address a limit is keyed on. Behind a reverse proxy the TCP peer
 * is the proxy, so X-Forwarded-For is believed only from the proxies named in
 * TRUST_PROXY (default: loopback, i.e. nginx or the Vite dev proxy on the same
 * machine); from anyone else it is not, or any client could pick its own key
 * and escape its limit. Express's `trust proxy` gets the same list (app.ts),
 * so REST and Socket.IO agree on who the client is.
 */
import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

export type ClientIp = (req: IncomingMessage) => string;

function normalise(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** `trusted`: proxy-addr names (`loopback`, `linklocal`, `uniquelocal`), addresses or CIDRs. */
export function createClientIp(trusted: readonly string[]): ClientIp {
  const trust = proxyaddr.compile([...trusted]);
  return (req) => normalise(proxyaddr(req as Parameters<typeof proxyaddr>[0], trust) ?? 'unknown');
}
