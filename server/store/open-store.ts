/** The store a config asks for: PostgreSQL when DATABASE_URL is set, else the SQLite file. */
import type { Config } from '../config.js';
import { createPostgresStore } from './postgres.js';
import { createSqliteStore } from './sqlite.js';
import type { Store } from './store.js';

export function openStore(config: Pick<Config, 'databaseUrl' | 'databaseSchema' | 'dataDir'>): Promise<Store> {
  if (config.databaseUrl) {
    return createPostgresStore({
      url: config.databaseUrl,
      ...(config.databaseSchema ? { schema: config.databaseSchema } : {}),
    });
  }
  return createSqliteStore(config.dataDir);
}
