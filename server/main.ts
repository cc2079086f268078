/**
 * The node's entry point and the only reader of process.env: load config,
 * start, print how to begin, and shut down cleanly on SIGTERM/SIGINT.
 */
import cluster from 'node:cluster';
import { pino } from 'pino';
import { createServer } from './app.js';
import { startClusterPrimary, startClusterWorker } from './cluster.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { reasonOf, StartError } from './start-failure.js';

let config: Config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    for (const problem of err.problems) console.error(`duet: ${problem}`);
    process.exit(1);
  }
  throw err;
}

// `npm start -- --workers N` wins over WORKERS.
const workersArg = process.argv.indexOf('--workers');
if (workersArg !== -1) {
  const n = Number(process.argv[workersArg + 1]);
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    console.error(`duet: Invalid --workers ${JSON.stringify(process.argv[workersArg + 1] ?? '')}: must be an integer from 1 to 256`);
    process.exit(1);
  }
  config = Object.freeze({ ...config, workers: n });
}

const log = pino({ level: config.logLevel, base: { pid: process.pid } });

/** Starts this process's node, or the cluster's workers; answers what a signal stops. */
async function start(): Promise<{ stop: () => Promise<void>; url: string }> {
  if (cluster.isWorker) {
    // Cluster mode, a worker: the primary owns the port and hands connections over.
    const server = await startClusterWorker(config);
    return { stop: () => server.close(), url: '' };
  }
  if (config.workers > 1) {
    const primary = await startClusterPrimary(config, config.workers, log);
    log.info({ url: primary.url, workers: config.workers, adapter: config.redisUrl ? 'redis' : 'cluster' }, 'duet cluster is listening');
    return { stop: () => primary.close(9000), url: primary.url };
  }
  const server = await createServer(config, { logger: log });
  const { url } = await server.listen();
  log.info({ url, store: server.ctx.store.kind, dataDir: config.dataDir }, 'duet is listening');
  return { stop: () => server.close(), url };
}

let started: Awaited<ReturnType<typeof start>>;
try {
  started = await start();
} catch (err) {
  // One line an operator can act on (it names the setting when it is known), not a stack trace.
  log.debug({ err }, 'start-up failed');
  console.error(`duet: Could not start: ${reasonOf(err)}${err instanceof StartError ? '' : ' (LOG_LEVEL=debug shows where)'}`);
  process.exit(1);
}
const { stop, url } = started;
if (!cluster.isWorker && (process.stdout.isTTY || config.logLevel !== 'silent')) {
  process.stderr.write(
    `\n  Duet is running at ${url}\n` +
      `  Mint an interviewer token:  npm run token -- --role interviewer --name "Ada"\n` +
      `  then open ${url}/ and paste it, or create an interview with curl (see README).\n\n`,
  );
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'shutting down');
    // Bounded: a stuck store must not keep a dying node around.
    setTimeout(() => process.exit(1), 10_000).unref();
    stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
