/**
 * createServer(config): one whole Duet node. Everything it builds (HTTP
 * server, Socket.IO, store, timers) it owns, and close() releases all of it.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import { pino, type Logger } from 'pino';
import { Server as IOServer } from 'socket.io';
import { LIMITS } from '../shared/limits.js';
import { createTokenService, resolveSecret } from './auth.js';
import type { Config } from './config.js';
import type { DuetIO, ServerContext } from './context.js';
import { apiRouter } from './http/api.js';
import { clientRouter } from './http/client-pages.js';
import { errorHandler, notFound } from './http/errors.js';
import { healthRouter } from './http/health.js';
import { createMetrics } from './metrics.js';
import { registerConnections } from './realtime/connection.js';
import { EventWriter } from './rooms/event-writer.js';
import { RoomRegistry } from './rooms/room-registry.js';
import { createSqliteStore } from './store/sqlite.js';
import type { Store } from './store/store.js';

export interface ServerOptions {
  /** A store built by the caller (the node then does not close it). */
  store?: Store;
  logger?: Logger;
  /** Where the built client lives; default dist/client beside the project. */
  clientDir?: string;
  /** How long an empty room stays loaded. */
  roomUnloadMs?: number;
}

export interface DuetServer {
  readonly ctx: ServerContext;
  readonly httpServer: HttpServer;
  /** Resolves with the bound address; port 0 picks a free port. */
  listen(port?: number, host?: string): Promise<{ port: number; url: string }>;
  close(): Promise<void>;
}

const PROJECT_ROOT = join(import.meta.dirname, '..');

export async function createServer(config: Config, options: ServerOptions = {}): Promise<DuetServer> {
  const log = options.logger ?? pino({ level: config.logLevel, base: { pid: process.pid } });
  const metrics = createMetrics();
  const ownsStore = !options.store;
  const store = options.store ?? (await createSqliteStore(config.dataDir));
  const tokens = await createTokenService({
    secret: resolveSecret(config.jwtSecret, config.dataDir),
    publicKeyPem: config.jwtPublicKey,
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  const httpServer = createHttpServer(app);
  const io: DuetIO = new IOServer(httpServer, {
    maxHttpBufferSize: LIMITS.socketPacketBytes,
    serveClient: false,
    // A client that missed pongs for this long is gone; its cursor goes with it.
    pingInterval: 10_000,
    pingTimeout: 10_000,
  });

  const ctx: ServerContext = {
    config,
    store,
    tokens,
    writer: new EventWriter(store, metrics, log),
    rooms: new RoomRegistry(store, metrics, options.roomUnloadMs ?? 30_000),
    metrics,
    log,
    io,
  };

  app.use(healthRouter(ctx, { store: () => store.ping() }));
  app.use('/api', apiRouter(ctx));
  app.use('/api', notFound());
  app.use(clientRouter(options.clientDir ?? join(PROJECT_ROOT, 'dist', 'client')));
  app.use(notFound());
  app.use(errorHandler(ctx));
  registerConnections(ctx);

  let closing: Promise<void> | undefined;
  return {
    ctx,
    httpServer,
    listen(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          const addr = httpServer.address() as AddressInfo;
          const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
          resolve({ port: addr.port, url: `http://${shownHost}:${addr.port}` });
        });
      });
    },
    close() {
      closing ??= (async () => {
        // Stop taking sockets and requests, let queued log writes land, then release the rest.
        io.disconnectSockets(true);
        await new Promise<void>((resolve) => io.close(() => resolve()));
        await ctx.writer.idle();
        await ctx.rooms.closeAll();
        if (ownsStore) await store.close();
      })();
      return closing;
    },
  };
}
