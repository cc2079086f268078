/**
 * The node under soak, in its own process so the load generator's memory is
 * not in its figures. Config overrides arrive as JSON in argv[2] (this is a
 * harness, not a second reader of the environment). Over IPC it answers
 * `sample` with its memory after two forced GCs (run with --expose-gc), its
 * open file descriptors and live handles, and its rooms, sockets and listeners.
 */
import { readdirSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';
import { pino } from 'pino';
import { createServer } from '../server/app.js';
import { defaultConfig, type Config } from '../server/config.js';

const overrides = JSON.parse(process.argv[2] ?? '{}') as Partial<Config>;
const roomUnloadMs = Number(process.argv[3] ?? 2000);
const config = defaultConfig(overrides);
const server = await createServer(config, { logger: pino({ level: 'warn' }), roomUnloadMs });
const { port } = await server.listen(0, '127.0.0.1');

const gc = (globalThis as { gc?: () => void }).gc;

function listenerTotal(emitter: NodeJS.EventEmitter): number {
  return emitter.eventNames().reduce((n, e) => n + emitter.listenerCount(e), 0);
}

function sample() {
  gc?.();
  gc?.();
  const mem = process.memoryUsage();
  const resources: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1;
  const io = server.ctx.io;
  return {
    heapUsed: mem.heapUsed,
    rss: mem.rss,
    external: mem.external,
    arrayBuffers: mem.arrayBuffers,
    fds: readdirSync('/proc/self/fd').length,
    resources,
    rooms: server.ctx.rooms.size,
    sockets: io.of('/').sockets.size,
    adapterRooms: io.of('/').adapter.rooms.size,
    engineClients: io.engine.clientsCount,
    listeners: {
      io: listenerTotal(io as unknown as NodeJS.EventEmitter),
      namespace: listenerTotal(io.of('/') as unknown as NodeJS.EventEmitter),
      engine: listenerTotal(io.engine as unknown as NodeJS.EventEmitter),
      http: listenerTotal(server.httpServer),
      process: listenerTotal(process),
    },
  };
}

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'sample') process.send!({ type: 'sample', sample: sample() });
  // A heap snapshot for chasing a trend (npm run soak -- --snapshots DIR).
  if (msg.type === 'snapshot') process.send!({ type: 'snapshot', file: (gc?.(), writeHeapSnapshot((msg as { file?: string }).file)) });
  if (msg.type === 'close') void server.close().then(() => process.exit(0));
});
process.send!({ type: 'listening', port, gc: gc !== undefined });
