/** The embedded default: one SQLite file in WAL mode. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Kysely, SqliteDialect } from 'kysely';
import { KyselyStore } from './kysely-store.js';
import type { Database } from './schema.js';

/** `migrateUpTo` leaves the schema at that migration: a test of an upgrade starts from there. */
export async function createSqliteStore(dataDir: string, options: { migrateUpTo?: string } = {}): Promise<KyselyStore> {
  // Only this user may read what a new data directory holds: code, chat, the panel's notes.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // Loaded here, not at start-up: a node on PostgreSQL never needs it.
  const { default: SQLite } = await import('better-sqlite3');
  const sqlite = new SQLite(join(dataDir, 'duet.sqlite'));
  sqlite.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a commit survives a process crash (the kill -9 case);
  // only an OS crash or power loss can drop the last transactions.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // lower() for every script, as PostgreSQL's is (SQLite's own knows only ASCII): the list's title search.
  sqlite.function('duet_lower', { deterministic: true }, (s: unknown) => (typeof s === 'string' ? s.toLowerCase() : s));
  const store = new KyselyStore('sqlite', new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) }));
  await store.migrate(options.migrateUpTo);
  return store;
}
