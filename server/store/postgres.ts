/** PostgreSQL, for many nodes: selected by DATABASE_URL. */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { KyselyStore } from './kysely-store.js';
import type { Database } from './schema.js';

export interface PostgresOptions {
  url: string;
  /** A schema of its own (created if missing): tests use one per run. */
  schema?: string;
  poolSize?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export async function createPostgresStore(options: PostgresOptions): Promise<KyselyStore> {
  // Checked before it goes anywhere near SQL: it is interpolated below.
  if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
    throw new Error(`invalid schema name ${JSON.stringify(options.schema)}`);
  }
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    // A dead database must fail a write quickly, not hang an ack forever:
    // connecting, and each query, give up after a bound; the client resends.
    connectionTimeoutMillis: 5000,
    query_timeout: 15_000,
    keepAlive: true,
    application_name: 'duet',
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  });
  // An idle client losing its connection emits 'error' on the pool; without a
  // listener that would crash the node. The next query reports the outage.
  pool.on('error', () => {});
  try {
    if (options.schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${options.schema}`);
    const store = new KyselyStore('postgres', new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), options.schema);
    await store.migrate();
    return store;
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
}
