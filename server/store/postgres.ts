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

export async function createPostgresStore(options: PostgresOptions): Promise<KyselyStore> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    // A dead database must fail a write quickly, not hang an ack forever.
    connectionTimeoutMillis: 5000,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  });
  // An idle client losing its connection emits 'error' on the pool; without a
  // listener that would crash the node. The next query reports the outage.
  pool.on('error', () => {});
  if (options.schema) {
    if (!/^[a-z_][a-z0-9_]*$/.test(options.schema)) throw new Error(`invalid schema name ${options.schema}`);
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${options.schema}`);
  }
  const store = new KyselyStore('postgres', new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }));
  await store.migrate();
  return store;
}
