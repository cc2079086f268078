/**
 * The node's entry point and the only reader of process.env: load config,
 * start, print how to begin, and shut down cleanly on SIGTERM/SIGINT.
 */
import { createServer } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';

let config: Config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`duet: ${err.message}`);
    process.exit(1);
  }
  throw err;
}

const server = await createServer(config);
const { url } = await server.listen();
const log = server.ctx.log;
log.info({ url, store: server.ctx.store.kind, dataDir: config.dataDir }, 'duet is listening');
if (process.stdout.isTTY || config.logLevel !== 'silent') {
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
    server.close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
