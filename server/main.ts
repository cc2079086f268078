/**
 * The node's entry point and the only reader of process.env: load config,
 * start, print how to begin, and shut down cleanly on SIGTERM/SIGINT.
 */
import cluster from 'node:cluster';
import { pino } from 'pino';
import { createServer } from './app.js';
import { startClusterPrimary, startClusterWorker } from './cluster.js';
import { ConfigError, loadConfig, type Config } from './config.js';

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

/** What a signal stops: this process's node, or the cluster's workers. */
let stop: () => Promise<void>;
let url: string;
const log = pino({ level: config.logLevel, base: { pid: process.pid } });
if (cluster.isWorker) {
  // Cluster mode, a worker: the primary owns the port and hands connections over.
  const server = await startClusterWorker(config);
  stop = () => server.close();
  url = '';
} else if (config.workers > 1) {
  const primary = await startClusterPrimary(config, config.workers, log);
  stop = () => primary.close(9000);
  url = primary.url;
  log.info({ url, workers: config.workers, adapter: config.redisUrl ? 'redis' : 'cluster' }, 'duet cluster is listening');
} else {
  const server = await createServer(config, { logger: log });
  stop = () => server.close();
  url = (await server.listen()).url;
  log.info({ url, store: server.ctx.store.kind, dataDir: config.dataDir }, 'duet is listening');
}
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
