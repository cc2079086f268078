/**
 * Classic vs sharded Redis adapter, measured through real Duet nodes.
 *
 *   npx tsx bench/adapter-compare.ts [--nodes 4] [--rooms 40] [--rate 20] [--seconds 5] [--rounds 2]
 *
 * Needs the machine's Redis and PostgreSQL (REDIS_URL / DATABASE_URL, default
 * localhost). Each interview has 4 clients on 2 of the nodes (2 + 2, like a
 * candidate and interviewers spread by a load balancer); one client per room
 * sends awareness updates (cursor moves: broadcast, not logged) at `rate` per
 * second. We time each delivery (send -> every other client of the room) and
 * the process CPU per delivery; the adapters alternate, `rounds` times each.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import pg from 'pg';
import { io as ioc, type Socket } from 'socket.io-client';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness';
import * as Y from 'yjs';
import { createServer, type DuetServer } from '../server/app.js';
import { defaultConfig } from '../server/config.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const NODES = arg('nodes', 4);
const ROOMS = arg('rooms', 40);
const RATE = arg('rate', 20);
const SECONDS = arg('seconds', 5);
const ROUNDS = arg('rounds', 2);
const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECRET = randomBytes(32).toString('hex');

interface Result {
  adapter: string;
  deliveries: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
  cpuUsPerDelivery: number;
  /** Pub/sub messages the nodes took off Redis (and decoded) per delivery to a client. */
  redisMessagesPerDelivery: number;
}

async function run(adapter: 'classic' | 'sharded', schema: string): Promise<Result> {
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  const nodes: Array<{ server: DuetServer; url: string }> = [];
  for (let i = 0; i < NODES; i++) {
    const config = defaultConfig({
      port: 0,
      host: '127.0.0.1',
      jwtSecret: SECRET,
      logLevel: 'silent',
      dataDir: `/tmp/${prefix}`,
      redisUrl: REDIS_URL,
      redisKeyPrefix: prefix,
      redisAdapter: adapter,
      databaseUrl: PG_URL,
      databaseSchema: schema,
      socketEventsPerSecond: 10_000,
      socketEventBurst: 10_000,
    });
    const server = await createServer(config, { logger: pino({ level: 'silent' }) });
    nodes.push({ server, url: (await server.listen(0, '127.0.0.1')).url });
  }
  // Count what each node's subscriber receives: the classic adapter's onmessage,
  // the sharded one's onRawMessage (both are called through `this`).
  let received = 0;
  for (const n of nodes) {
    const a = n.server.ctx.io.of('/').adapter as unknown as Record<string, (...args: unknown[]) => unknown>;
    const name = adapter === 'classic' ? 'onmessage' : 'onRawMessage';
    const original = a[name]!.bind(a);
    a[name] = (...args: unknown[]) => {
      if (measuring) received++;
      return original(...args);
    };
  }
  const tokens = nodes[0]!.server.ctx.tokens;
  const sockets: Socket[] = [];
  const latencies: number[] = [];
  let measuring = false;
  const senders: Array<{ socket: Socket; awareness: Awareness }> = [];

  for (let r = 0; r < ROOMS; r++) {
    const owner = await tokens.sign({ sub: 'owner', name: 'Owner', role: 'interviewer' }, 3600);
    const res = await fetch(`${nodes[0]!.url}/api/interviews`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: `bench ${r}` }),
    });
    const iv = (await res.json()) as { id: string };
    // Two of the nodes, 2 + 2 clients.
    const a = nodes[r % NODES]!;
    const b = nodes[(r + 1) % NODES]!;
    for (const [i, node] of [a, a, b, b].entries()) {
      const token = await tokens.sign({ sub: `u${r}-${i}`, name: `u${i}`, role: i === 0 ? 'interviewer' : 'candidate', iid: iv.id }, 3600);
      const socket = ioc(node.url, { auth: { token }, transports: ['websocket'], forceNew: true });
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('session', () => resolve());
        socket.once('connect_error', reject);
      });
      const doc = new Y.Doc();
      const awareness = new Awareness(doc);
      socket.on('awareness', ({ update }: { update: Uint8Array }) => {
        const before = new Map(awareness.getStates());
        applyAwarenessUpdate(awareness, new Uint8Array(update), 'remote');
        if (!measuring) return;
        for (const [id, state] of awareness.getStates()) {
          const sentAt = Number(state.cursor?.file);
          if (id !== doc.clientID && Number.isFinite(sentAt) && before.get(id)?.cursor?.file !== state.cursor?.file) {
            latencies.push(performance.now() - sentAt);
          }
        }
      });
      if (i === 0) senders.push({ socket, awareness });
    }
  }
  // Let subscriptions settle, then measure.
  await new Promise((r) => setTimeout(r, 500));
  measuring = true;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const interval = 1000 / RATE;
  const timers = senders.map(({ socket, awareness }, i) =>
    setTimeout(function tick() {
      // A cursor state holds nothing but a file and selections (the node checks): the send time goes in as the file.
      awareness.setLocalState({ cursor: { file: String(performance.now()), selections: [] } });
      socket.emit('awareness', { doc: 'main', update: encodeAwarenessUpdate(awareness, [awareness.doc.clientID]) });
      timers[i] = setTimeout(tick, interval);
    }, Math.random() * interval),
  );
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  for (const t of timers) clearTimeout(t);
  await new Promise((r) => setTimeout(r, 300));
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);

  for (const s of sockets) s.disconnect();
  for (const n of nodes) await n.server.close();

  latencies.sort((x, y) => x - y);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return {
    adapter,
    deliveries: latencies.length,
    perSecond: Math.round(latencies.length / elapsed),
    p50: +q(0.5).toFixed(2),
    p99: +q(0.99).toFixed(2),
    max: +(latencies[latencies.length - 1] ?? NaN).toFixed(1),
    cpuUsPerDelivery: Math.round((cpu.user + cpu.system) / Math.max(1, latencies.length)),
    redisMessagesPerDelivery: +(received / Math.max(1, latencies.length)).toFixed(2),
  };
}

const schema = `duet_bench_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: PG_URL });
await admin.connect();
try {
  const results: Result[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const adapter of round % 2 ? (['sharded', 'classic'] as const) : (['classic', 'sharded'] as const)) {
      const r = await run(adapter, schema);
      console.log(JSON.stringify(r));
      results.push(r);
    }
  }
  console.log(`\n${NODES} nodes, ${ROOMS} rooms (2+2 clients on 2 nodes), ${RATE} updates/s per room, ${SECONDS} s per run`);
  console.table(results);
} finally {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
}
process.exit(0);
