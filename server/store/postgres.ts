/** PostgreSQL, for many nodes: selected by DATABASE_URL. */
import { CompiledQuery, Kysely, type DatabaseConnection } from 'kysely';
import { KyselyStore, type PreparedQuery } from './kysely-store.js';
import { SchemaScopedPostgresDialect } from './postgres-introspector.js';
import type { Database } from './schema.js';

export interface PostgresOptions {
  url: string;
  /** A schema of its own (created if missing): tests use one per run. */
  schema?: string;
  poolSize?: number;
  /** How long a connection above the warm ones may sit idle before it closes (pg's default, 10 s). */
  idleTimeoutMs?: number;
  /** Names the node's connections in pg_stat_activity. */
  applicationName?: string;
  /** How long PostgreSQL lets one of the node's transactions sit idle before it ends the session (default 10 s). */
  idleInTransactionTimeoutMs?: number;
  /** Leaves the schema at that migration: a test of an upgrade starts from there. */
  migrateUpTo?: string;
}

/**
 * Duet's transactions take milliseconds. One left open (its node frozen or
 * its host lost between two statements, the connection never closed) would
 * hold its row locks, an interview's among them, until PostgreSQL noticed
 * the dead connection, which under a frozen process is never: every other
 * node's commit to that interview would wait on it. PostgreSQL ends such a
 * session after this long, and the locks go with it.
 */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 10_000;

/**
 * Connections the pool keeps open however quiet the node. Opening one costs
 * PostgreSQL a backend (~13 ms here, against ~0.1 ms for a query on an open
 * one), and a join reads several things at once: on a node idle between
 * interviews, whose pool had closed every connection, the next candidate's
 * join paid that for each (docs/performance.md, change 39).
 */
const WARM_CONNECTIONS = 4;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** Arbitrary, fixed: the advisory lock key Duet migrates under. */
const MIGRATION_LOCK = 0x64756574;

export async function createPostgresStore(options: PostgresOptions): Promise<KyselyStore> {
  // Checked before it goes anywhere near SQL: it is interpolated below.
  if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
    throw new Error(`invalid schema name ${JSON.stringify(options.schema)}`);
  }
  // Loaded here, not at start-up: a node on SQLite never needs it.
  const { default: pg } = await import('pg');
  // At least 2: start-up holds one connection for the migration lock while migrating on another.
  const max = Math.max(2, options.poolSize ?? 10);
  const warm = Math.min(WARM_CONNECTIONS, max);
  const pool = new pg.Pool({
    connectionString: options.url,
    max,
    min: warm,
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMillis: options.idleTimeoutMs } : {}),
    // A dead database must fail a write quickly, not hang an ack forever:
    // connecting, and each query, give up after a bound; the client resends.
    connectionTimeoutMillis: 5000,
    query_timeout: 15_000,
    // Probes after 30 s idle, not Linux's 2 h: the warm connections idle for
    // hours, and a NAT or load balancer on the way drops a silent connection
    // long before that, leaving the next query to wait out its timeout.
    keepAlive: true,
    keepAliveInitialDelayMillis: 30_000,
    application_name: options.applicationName ?? 'duet',
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  });
  // An idle client losing its connection emits 'error' on the pool; without a
  // listener that would crash the node. The next query reports the outage.
  pool.on('error', () => {});
  // A client checked out (inside a transaction, between queries) when the
  // connection drops emits 'error' on itself: same, the query in hand fails.
  pool.on('connect', (client) => client.on('error', () => {}));
  // Set on the session, not as a startup option, which PgBouncer refuses
  // unless told to ignore it; by Kysely, before its first use of each
  // connection, since every transaction goes through Kysely (the group
  // commit, straight on the pool, is one statement).
  const idleInTransactionMs = Math.trunc(options.idleInTransactionTimeoutMs ?? IDLE_IN_TRANSACTION_TIMEOUT_MS);
  const onCreateConnection = async (connection: DatabaseConnection) => {
    await connection.executeQuery(CompiledQuery.raw(`SET idle_in_transaction_session_timeout = ${idleInTransactionMs}`));
  };
  try {
    const prepared: PreparedQuery = async <R,>(name: string, text: string, values: unknown[]) => (await pool.query({ name, text, values })) as unknown as { rows: R[] };
    const dialect = new SchemaScopedPostgresDialect({ pool, onCreateConnection }, options.schema);
    const store = new KyselyStore('postgres', new Kysely<Database>({ dialect }), options.schema, prepared);
    // Nodes starting together: one creates the schema and migrates, the others
    // wait on this session lock and then find nothing to do. (Kysely's own
    // migration lock comes too late: creating its bookkeeping tables races.)
    const lock = await pool.connect();
    try {
      await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      if (options.schema) await lock.query(`CREATE SCHEMA IF NOT EXISTS ${options.schema}`);
      await store.migrate(options.migrateUpTo);
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
      lock.release();
    }
    // Opened now, so the first joins do not open them (the pool keeps, not makes, its minimum).
    await Promise.all(Array.from({ length: warm }, () => pool.query('SELECT 1')));
    return store;
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
}
