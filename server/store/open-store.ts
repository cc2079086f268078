/** The store a config asks for: PostgreSQL when DATABASE_URL is set, else the SQLite file. */
import type { Config } from '../config.js';
import { storeStartError } from '../start-failure.js';
import { createPostgresStore } from './postgres.js';
import { createSqliteStore } from './sqlite.js';
import type { Store } from './store.js';

/** Fails with a StartError naming DATABASE_URL or DATA_DIR, whoever opens it (a node, a cluster's primary). */
export async function openStore(config: Pick<Config, 'databaseUrl' | 'databaseSchema' | 'dataDir'>): Promise<Store> {
  try {
    if (config.databaseUrl) {
      return await createPostgresStore({
        url: config.databaseUrl,
        ...(config.databaseSchema ? { schema: config.databaseSchema } : {}),
      });
    }
    return await createSqliteStore(config.dataDir);
  } catch (err) {
    throw storeStartError(config, err);
  }
}
