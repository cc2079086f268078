/**
 * The client address a limit is keyed on. Behind a reverse proxy on the same
 * machine (nginx on loopback, the Vite dev proxy) the TCP peer is the proxy,
 * so its X-Forwarded-For is believed; from anywhere else it is not, or any
 * client could pick its own key and escape its limit. This mirrors Express's
 * `trust proxy: loopback`, which app.ts sets for REST.
 */
import type { IncomingMessage } from 'node:http';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

function normalise(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

export function clientIp(req: IncomingMessage): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (!LOOPBACK.test(peer)) return normalise(peer);
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  // Walk back from the nearest hop: the first one that is not a trusted proxy is the client.
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!LOOPBACK.test(hops[i]!)) return normalise(hops[i]!);
  }
  return normalise(peer);
}
