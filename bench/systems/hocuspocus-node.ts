/**
 * One Hocuspocus 3.4 node for the comparison, configured from the environment
 * by the benchmark: PORT, REDIS_URL, REDIS_PREFIX, JWT_SECRET, and
 * HP_PERSIST=postgres (with DATABASE_URL, HP_SCHEMA) or none.
 *
 * What it does, on purpose as close to Duet as Hocuspocus allows:
 * - checks the same HS256 token at connect (its `iid` must name the document);
 * - shares documents across nodes with @hocuspocus/extension-redis;
 * - persists with @hocuspocus/extension-database to PostgreSQL: the whole
 *   document state, debounced (Hocuspocus's defaults: 2 s, at most 10 s), not
 *   each update before an ack as Duet does;
 * - relays stateless messages (our stand-in for chat) to the document's clients.
 */
import { Database } from '@hocuspocus/extension-database';
import { Redis } from '@hocuspocus/extension-redis';
import { Server, type Extension } from '@hocuspocus/server';
import { jwtVerify } from 'jose';
import pg from 'pg';

const env = process.env;
const port = Number(env.PORT ?? 0);
const secret = new TextEncoder().encode(env.JWT_SECRET ?? '');
const redisUrl = new URL(env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const schema = env.HP_SCHEMA ?? 'public';
if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error('bad HP_SCHEMA');

const extensions: Extension[] = [
  new Redis({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379), prefix: env.REDIS_PREFIX ?? 'hocuspocus' }),
];

let pool: pg.Pool | undefined;
if (env.HP_PERSIST === 'postgres') {
  pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 10 });
  pool.on('error', () => {});
  const lock = await pool.connect();
  try {
    // Two nodes start together: one creates the table.
    await lock.query('SELECT pg_advisory_lock(4242)');
    await lock.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await lock.query(`CREATE TABLE IF NOT EXISTS ${schema}.hp_documents (name text PRIMARY KEY, data bytea NOT NULL)`);
  } finally {
    await lock.query('SELECT pg_advisory_unlock(4242)');
    lock.release();
  }
  const db = pool;
  extensions.push(
    new Database({
      fetch: async ({ documentName }) => {
        const r = await db.query<{ data: Buffer }>(`SELECT data FROM ${schema}.hp_documents WHERE name = $1`, [documentName]);
        return r.rows[0] ? new Uint8Array(r.rows[0].data) : null;
      },
      store: async ({ documentName, state }) => {
        await db.query(
          `INSERT INTO ${schema}.hp_documents (name, data) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data`,
          [documentName, state],
        );
      },
    }),
  );
}

const server = new Server({
  port,
  address: '127.0.0.1',
  quiet: true,
  stopOnSignals: false,
  extensions,
  async onAuthenticate({ token, documentName }) {
    const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'] });
    if (payload.iid !== documentName) throw new Error('token is for another document');
    return { sub: payload.sub, role: payload.role };
  },
  async onStateless({ document, payload }) {
    document.broadcastStateless(payload);
  },
});
await server.listen();
process.send?.({ type: 'listening', port: server.address.port });

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    setTimeout(() => process.exit(1), 5000).unref();
    server
      .destroy()
      .then(() => pool?.end())
      .finally(() => process.exit(0));
  });
}
