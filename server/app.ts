/**
 * createServer(config): one whole Duet node. Everything it builds (HTTP
 * server, Socket.IO, store, timers) it owns, and close() releases all of it.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import express from 'express';
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Server as IOServer } from 'socket.io';
import { LIMITS } from '../shared/limits.js';
import { createTokenService, logMadeSecret, resolveSecret } from './auth.js';
import type { Config } from './config.js';
import type { DuetIO, ServerContext } from './context.js';
import { apiRouter } from './http/api.js';
import { clientRouter } from './http/client-pages.js';
import { errorHandler, notFound } from './http/errors.js';
import { healthRouter, NotReady } from './http/health.js';
import { corsForApi, securityHeaders, socketIoCors } from './http/security.js';
import { registerBackpressureGuard } from './limits/backpressure.js';
import { createClientIp } from './limits/client-ip.js';
import { createIpLimits, httpRateLimit } from './limits/rate-limits.js';
import { registerConnectionCap, registerHandshakeGuard } from './limits/socket-guards.js';
import { createRedisAdapter, type AdapterFactory, type RedisAdapterHandle } from './adapter.js';
import { createMetrics } from './metrics.js';
import { registerConnections } from './realtime/connection.js';
import { createPeers } from './realtime/peers.js';
import { EventWriter } from './rooms/event-writer.js';
import { RoomRegistry } from './rooms/room-registry.js';
import { createRunner } from './runner/runner.js';
import { FinalFiles } from './replay/final-files.js';
import { warmUpYjs } from './rooms/yjs-warm-up.js';
import { coalesceWrites } from './realtime/write-coalescing.js';
import { startRetentionSweeper } from './retention.js';
import { openStore } from './store/open-store.js';
import { listenStartError } from './start-failure.js';
import type { Store } from './store/store.js';

export interface ServerOptions {
  /** A store built by the caller (the node then does not close it). */
  store?: Store;
  logger?: Logger;
  /** Where the built client lives; default dist/client beside the project. */
  clientDir?: string;
  /** How long an empty room stays loaded. */
  roomUnloadMs?: number;
  /** How long after a join a cold load's bytes wait to be applied, unless needed sooner (default 300 ms). */
  coldApplyAfterMs?: number;
  /** A Socket.IO adapter built by the caller (cluster mode); otherwise Redis when REDIS_URL is set. */
  adapter?: AdapterFactory;
  /** Bound on close(): flushing writes and closing connections (default 8 s). */
  shutdownTimeoutMs?: number;
  /** Run Yjs on a made-up document in the background at start-up (server/rooms/yjs-warm-up.ts); default on. */
  warmUp?: boolean;
  /** How long the start waits for Redis before it fails (default 30 s). */
  redisStartTimeoutMs?: number;
  /**
   * The process's default metrics (createProcessMetrics), when one process builds several nodes;
   * otherwise the node makes its own.
   */
  processMetrics?: Registry;
  /** What /metrics serves instead of this node's own registry (cluster mode: the whole cluster's). */
  metricsText?: () => Promise<string>;
  /** Told this node's id (the one its joins name) at start and whenever it changes; see nodesExited. */
  onNodeId?: (id: string) => void;
}

export interface DuetServer {
  readonly ctx: ServerContext;
  readonly httpServer: HttpServer;
  /** Resolves with the bound address; port 0 picks a free port. */
  listen(port?: number, host?: string): Promise<{ port: number; url: string }>;
  /** Resolves when the start-up warm-up has finished (at once without one). */
  readonly warmedUp: Promise<void>;
  /**
   * Nodes (ids from onNodeId) known to have exited, as a cluster's primary
   * knows of its workers: this node logs their connections as left in a
   * second, not after NODE_DEAD_AFTER_SECONDS of silence.
   */
  nodesExited(ids: readonly string[]): void;
  close(): Promise<void>;
}

/**
 * The nearest folder above this module with a package.json: the project, from
 * server/ when run from the sources (tests, `npm run dev`) and from dist/server/
 * when run as the bundle `npm start` builds.
 */
function projectRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return join(from, '..');
  }
}
const PROJECT_ROOT = projectRoot(import.meta.dirname);

export async function createServer(config: Config, options: ServerOptions = {}): Promise<DuetServer> {
  const log = options.logger ?? pino({ level: config.logLevel, base: { pid: process.pid } });
  const metrics = createMetrics(options.processMetrics);
  const ownsStore = !options.store;
  const store = options.store ?? (await openStore(config));
  let redis: RedisAdapterHandle | undefined;
  try {
    if (!options.adapter && config.redisUrl) {
      redis = await createRedisAdapter(
        config,
        log,
        () => {
          // Close this node's transports: each client reconnects and syncs both ways,
          // getting what the lost broadcasts carried (socket.io-client spreads the retries).
          for (const socket of io.of('/').sockets.values()) socket.conn.close();
        },
        options.redisStartTimeoutMs,
      );
    }
  } catch (err) {
    if (ownsStore) await store.close();
    throw err;
  }
  const adapter = options.adapter ?? redis?.adapter;
  const tokens = await createTokenService({
    secret: resolveSecret(config.jwtSecret, config.dataDir, logMadeSecret(log)),
    publicKeyPem: config.jwtPublicKey,
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', [...config.trustProxy]);
  const clientIp = createClientIp(config.trustProxy);
  app.use(securityHeaders(config));
  const limits = createIpLimits(config, log, redis?.client);
  const cors = socketIoCors(config);
  const httpServer = createHttpServer(app);
  const io: DuetIO = new IOServer(httpServer, {
    maxHttpBufferSize: LIMITS.socketPacketBytes,
    serveClient: false,
    // A client that missed pongs for this long is gone; its cursor goes with it.
    pingInterval: config.pingIntervalMs,
    pingTimeout: config.pingIntervalMs,
    ...(cors ? { cors } : {}),
    ...(adapter ? { adapter } : {}),
  });
  coalesceWrites(io.engine);
  // The adapter's own channels are live before this node takes anyone.
  await redis?.subscribed();
  let draining = false;
  const warmUp = options.warmUp === false ? undefined : warmUpYjs();
  let warm = !warmUp;
  void warmUp?.done.then(() => (warm = true));

  const ctx: ServerContext = {
    config,
    store,
    tokens,
    writer: new EventWriter(store, metrics, log),
    rooms: new RoomRegistry(store, metrics, options.roomUnloadMs ?? 30_000, options.coldApplyAfterMs),
    metrics,
    log,
    io,
    finalFiles: new FinalFiles(store),
    runner: createRunner(config.runner, log),
    // The in-memory adapter has no peers (and warns on serverSideEmit).
    peers: config.redisUrl || config.workers > 1 ? createPeers(io, log) : undefined,
  };

  app.use(
    healthRouter(ctx, options.metricsText, {
      store: () => store.ping(),
      ...(redis ? { redis: redis.ping } : {}),
      // A draining node leaves the load balancer's rotation first.
      shutdown: async () => {
        if (draining) throw new NotReady('shutting down');
      },
      // A load balancer sends joiners once Yjs is compiled for speed (about a second after start).
      ...(warmUp
        ? {
            warmUp: async () => {
              if (!warm) throw new NotReady('warming up');
            },
          }
        : {}),
    }),
  );
  app.use('/api', corsForApi(config), httpRateLimit(limits.http, clientIp));
  app.use('/api', apiRouter(ctx));
  app.use('/api', notFound());
  app.use(clientRouter(options.clientDir ?? join(PROJECT_ROOT, 'dist', 'client')));
  app.use(notFound());
  app.use(errorHandler(ctx));
  // Middlewares run in order: abuse checks, then authentication, then the per-interview cap.
  registerHandshakeGuard(io, config, limits.handshake, clientIp, metrics);
  const connections = registerConnections(ctx, options.onNodeId);
  const retention = startRetentionSweeper(ctx, config.retentionDays);
  registerConnectionCap(io, { perInterview: config.maxSocketsPerInterview, perPerson: config.maxSocketsPerPerson }, metrics, log);
  registerBackpressureGuard(io, config.socketSendBufferBytes, metrics, log);

  let closing: Promise<void> | undefined;
  return {
    ctx,
    httpServer,
    warmedUp: warmUp?.done ?? Promise.resolve(),
    nodesExited: (ids) => connections.nodesExited(ids),
    listen(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        const failed = (err: unknown) => reject(listenStartError(err, port, host));
        httpServer.once('error', failed);
        httpServer.listen(port, host, () => {
          httpServer.off('error', failed);
          const addr = httpServer.address() as AddressInfo;
          const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
          resolve({ port: addr.port, url: `http://${shownHost}:${addr.port}` });
        });
      });
    },
    close() {
      closing ??= (async () => {
        draining = true;
        warmUp?.stop();
        await retention.stop();
        // The heartbeat goes on while the node drains: a node shutting down is not dead.
        connections.stopSweeps();
        const bound = options.shutdownTimeoutMs ?? 8000;
        const deadline = Date.now() + bound;
        const left = () => Math.max(0, deadline - Date.now());
        // 1. Stop accepting connections (open ones live on for now).
        if (httpServer.listening) httpServer.close();
        // Runs end (killed) so their `run` events join the writes below.
        await timeLimit(ctx.runner.close(), left() / 4);
        // 2. Let queued log writes commit, so their acks still reach connected clients.
        await timeLimit(ctx.writer.idle(), left() / 2);
        // 3. Tell this node's clients (local only: not the whole cluster), then close
        //    their transports. A transport close, unlike a server `disconnect`
        //    packet, makes socket.io-client reconnect, through the load balancer,
        //    to another node; unacknowledged edits are resent from there.
        io.local.emit('error', { code: 'unavailable', message: 'this node is shutting down; reconnecting to another' });
        const ioClosed = new Promise<void>((resolve) => io.close(() => resolve()));
        // io.close() ends with httpServer.close(), which would wait for idle
        // keep-alive HTTP connections (browsers keep them for minutes): give the
        // transports a moment to close cleanly, then drop whatever is left.
        await timeLimit(ioClosed, Math.min(left(), 500));
        httpServer.closeAllConnections();
        await timeLimit(ioClosed, left());
        // 4. What the disconnects queued (leave events), then release the rest.
        await timeLimit(ctx.writer.idle(), left());
        await timeLimit(connections.close(), 1000);
        await ctx.rooms.closeAll();
        ctx.finalFiles.close();
        await redis?.close();
        if (ownsStore) await store.close();
      })();
      return closing;
    },
  };
}

/** Waits for `p`, but no longer than `ms` (shutdown must be bounded). */
function timeLimit(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.then(() => {}, () => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
