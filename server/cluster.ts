/**
 * Cluster mode on one machine: a primary process owns the listening socket and
 * hands each connection to a worker with @socket.io/sticky, which routes every
 * HTTP long-polling request of a Socket.IO session to the worker that holds it
 * (plain round-robin would break polling). Workers share rooms through Redis
 * when REDIS_URL is set, else through the primary (@socket.io/cluster-adapter).
 *
 * The caller (main.ts) reads the environment; this module only gets a Config.
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer as createHttpServer } from 'node:http';
import type { Logger } from 'pino';
import { createServer, type DuetServer } from './app.js';
import { logMadeSecret, resolveSecret } from './auth.js';
import { listenStartError, StartError } from './start-failure.js';
import type { Config } from './config.js';
import { openStore } from './store/open-store.js';
import { serveClusterMetrics, workerClusterMetrics } from './cluster-metrics.js';
import { isMessage, sendToPrimary } from './cluster-ipc.js';
import { trackWorkerNodes, workerNodeIds } from './cluster-dead-workers.js';
import { heldConnections } from './cluster-held-connections.js';

const READY = 'duet:worker-ready';
/** What a booting worker counts as in sticky's least-connection balancing: more than any real one. */
const BOOTING_LOAD = 1e9;

/**
 * How long the primary waits before replacing a dead worker: 0.5 s, then
 * twice as long for each replacement in a row (of that one worker) that died
 * before it was ready (the database or Redis down, say), up to 30 s, so a
 * cause that outlasts the restarts is not a fork every half second.
 */
export const restartDelayMs = (failedInARow: number) => Math.min(30_000, 500 * 2 ** Math.min(failedInARow, 6));

export interface ClusterPrimary {
  url: string;
  /** Asks every worker to shut down gracefully, then stops listening. */
  close(timeoutMs: number): Promise<void>;
}

/**
 * Runs in the primary: prepares what workers must share (the JWT secret, the
 * migrated schema), listens, and keeps `workers` workers alive.
 */
export async function startClusterPrimary(config: Config, workers: number, log: Logger): Promise<ClusterPrimary> {
  // Done once here, not raced by N workers: the generated secret every worker
  // must agree on, and the migrations.
  const jwtSecret = config.jwtPublicKey ? undefined : resolveSecret(config.jwtSecret, config.dataDir, logMadeSecret(log));
  const store = await openStore(config);
  await store.close();

  // Structured clone over IPC: sticky's connection bytes and the adapter's
  // binary broadcasts (Yjs updates) must arrive as bytes, not JSON.
  cluster.setupPrimary({ serialization: 'advanced' });
  // Loaded here, not at start-up: a node that is not a cluster's never needs them
  // (and with Redis, the cluster adapter is not used at all).
  const { setupMaster: setupStickyPrimary } = await import('@socket.io/sticky');
  const httpServer = createHttpServer();
  setupStickyPrimary(httpServer, { loadBalancingMethod: 'least-connection' });
  if (!config.redisUrl) (await import('@socket.io/cluster-adapter')).setupPrimary();

  let stopping = false;
  // The worker being started: its death fails the start (below) instead of starting another.
  let booting: Worker | undefined;
  // For each replacement: how many before it, in a row, died before they were ready.
  const failedBefore = new WeakMap<Worker, number>();
  // Replacements waiting out their delay, each with its failedBefore.
  const restarts = new Map<NodeJS.Timeout, number>();
  // Workers that said they are ready: the ones a /metrics scrape gathers.
  const ready = new Set<Worker>();
  // Connections for a worker still starting, or whose channel has closed (its exit not seen
  // yet), are answered 503 here: the one would drop them, the other cannot be sent them.
  const held = heldConnections(httpServer, (worker) => ready.has(worker) && worker.isConnected());
  const metrics = serveClusterMetrics(() => [...ready]);
  cluster.on('message', metrics.onMessage);
  const nodes = trackWorkerNodes(() => [...ready]);
  cluster.on('message', nodes.onMessage);
  const env: Record<string, string> = {};
  if (jwtSecret) env.JWT_SECRET = jwtSecret;
  // Sticky's least-connection picks the worker with the fewest clients, and a worker still
  // booting has none: every new connection would go to it, which drops them until it has set
  // up its side of sticky. Until it says it is ready, it counts as full.
  const fork = (failed = 0): Worker => {
    const worker = cluster.fork(env) as Worker & { clientsCount?: number };
    worker.clientsCount = BOOTING_LOAD;
    failedBefore.set(worker, failed);
    held.watch(worker);
    worker.process.once('close', () => {
      // After both its exit and the end of its channel: every answer it sent has been relayed.
      held.lost(worker);
      // Node 20 leaves a worker in cluster.workers for good when its exit came before the end of
      // its channel while a handover was unacknowledged: sticky would go on picking it.
      if (cluster.workers?.[worker.id] === worker) delete cluster.workers[worker.id];
    });
    // A send without a callback to a worker whose channel just closed (sticky telling a dead
    // worker that a relayed client went away) fails as an 'error' event: unheard, it would end
    // the primary. That one is expected; anything else is worth a line.
    worker.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ERR_IPC_CHANNEL_CLOSED' && !worker.isDead()) log.warn({ worker: worker.process.pid, err }, 'worker error');
    });
    return worker;
  };
  // Dying (its channel closed, or its exit seen first): new connections go elsewhere from now on.
  const dying = (worker: Worker & { clientsCount?: number }) => (worker.clientsCount = BOOTING_LOAD);
  cluster.on('disconnect', dying);
  const restartLater = (failed: number, delayMs: number) => {
    const timer = setTimeout(() => {
      restarts.delete(timer);
      if (!stopping) fork(failed);
    }, delayMs).unref();
    restarts.set(timer, failed);
  };
  cluster.on('exit', (worker, code, signal) => {
    dying(worker);
    const wasReady = ready.delete(worker);
    metrics.onExit(worker);
    const unasked = !stopping && worker !== booting;
    nodes.onExit(worker, unasked);
    if (!unasked) return;
    const failed = wasReady ? 0 : (failedBefore.get(worker) ?? 0) + 1;
    const delayMs = restartDelayMs(failed);
    log.error({ worker: worker.process.pid, code, signal, ready: wasReady, restartInMs: delayMs }, 'worker died; starting another');
    // Its clients reconnect (through sticky) to the others meanwhile.
    // (Ctrl-C signals the workers too: the primary may hear of a death before its own SIGINT.)
    restartLater(failed, delayMs);
  });
  // Ready: in the scrapes, and in sticky's balancing at its real count.
  cluster.on('message', (worker: Worker & { clientsCount?: number }, message) => {
    if (!isMessage(message, READY) || ready.has(worker)) return;
    ready.add(worker);
    worker.clientsCount = (worker.clientsCount ?? BOOTING_LOAD) - BOOTING_LOAD;
    if (worker !== booting) log.info({ worker: worker.process.pid }, 'worker ready');
    nodes.onReady();
    // One could start, so what kept the others from starting has likely passed: no longer wait it out.
    for (const [timer, failed] of [...restarts]) {
      if (failed === 0) continue;
      clearTimeout(timer);
      restarts.delete(timer);
      restartLater(0, restartDelayMs(0));
    }
  });
  // Listen only once every worker can take connections: sticky hands a
  // connection to a worker at once, and one still booting would drop it.
  // One at a time: workers opening one SQLite file together contend on its
  // locks (busy waits block a worker's thread).
  for (let i = 0; i < workers; i++) {
    const worker = fork();
    booting = worker;
    await new Promise<void>((resolve, reject) => {
      const onMessage = (message: unknown) => {
        if (!isMessage(message, READY)) return;
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        resolve();
      };
      // A worker that failed printed why (main.ts); this line only says it was a worker.
      const onExit = (code: number | null, signal: string | null) =>
        reject(new StartError(signal ? `a worker was killed while starting (${signal})` : `a worker exited while starting (code ${code}), for the reason above`));
      worker.on('message', onMessage);
      worker.once('exit', onExit);
    });
  }

  booting = undefined;

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', (err) => reject(listenStartError(err, config.port, config.host)));
    httpServer.listen(config.port, config.host, () => resolve());
  });
  const addr = httpServer.address() as { port: number };
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;

  return {
    url: `http://${shownHost}:${addr.port}`,
    async close(timeoutMs) {
      stopping = true;
      httpServer.close();
      const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
      await Promise.all(
        alive.map(
          (w) =>
            new Promise<void>((resolve) => {
              const timer = setTimeout(() => {
                w.process.kill('SIGKILL');
                resolve();
              }, timeoutMs);
              w.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              w.process.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}

/** Runs in a worker: a whole node that takes its connections from the primary. */
export async function startClusterWorker(config: Config): Promise<DuetServer> {
  const { setupWorker: setupStickyWorker } = await import('@socket.io/sticky');
  const metrics = workerClusterMetrics();
  const nodes = workerNodeIds();
  const server = await createServer(config, {
    ...(config.redisUrl ? {} : { adapter: (await import('@socket.io/cluster-adapter')).createAdapter() }),
    metricsText: metrics.text,
    onNodeId: nodes.report,
  });
  metrics.share(server.ctx.metrics.registry);
  nodes.listen(server);
  sendOnlyCloneables();
  setupStickyWorker(server.ctx.io as never);
  sendToPrimary({ type: READY });
  return server;
}

/**
 * fetchSockets() answers carry each socket's `data`, which may hold values
 * structured clone refuses (a Promise of the loaded room). Such a message is
 * sent again without them instead of crashing the worker.
 */
function sendOnlyCloneables(): void {
  const send = process.send?.bind(process);
  if (!send) return;
  process.send = ((message: unknown, ...rest: unknown[]) => {
    try {
      return (send as (...args: unknown[]) => boolean)(message, ...rest);
    } catch (err) {
      // node:v8's serializer throws a plain Error ("#<Promise> could not be cloned.").
      if (!/could not be cloned/.test(String((err as Error).message))) throw err;
      return (send as (...args: unknown[]) => boolean)(cloneable(message), ...rest);
    }
  }) as typeof process.send;
}

function cloneable(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol' ? undefined : value;
  if (depth > 32 || value instanceof Promise) return undefined;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date || value instanceof RegExp) return value;
  if (Array.isArray(value)) return value.map((v) => cloneable(v, depth + 1));
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, cloneable(v, depth + 1)]));
  if (value instanceof Set) return new Set([...value].map((v) => cloneable(v, depth + 1)));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const c = cloneable(v, depth + 1);
    if (c !== undefined) out[k] = c;
  }
  return out;
}
