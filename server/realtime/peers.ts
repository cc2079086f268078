/**
 * The other nodes of this deployment, reached with Socket.IO's server-side
 * emit through the adapter (Redis, or the cluster's primary). A lone node
 * (no REDIS_URL, one worker) has none.
 */
import type { ServerContext } from '../context.js';

export interface PeerIO {
  on(event: string, listener: (...args: any[]) => void): void;
  serverSideEmit(event: string, ...args: unknown[]): boolean;
}

export function peersOf(ctx: ServerContext): PeerIO | undefined {
  // The in-memory adapter has no peers (and warns on serverSideEmit).
  if (!ctx.config.redisUrl && ctx.config.workers <= 1) return undefined;
  return ctx.io as unknown as PeerIO;
}
