/**
 * A node between interviews keeps a few database connections open: opening
 * one costs PostgreSQL a new backend, many times a query's cost, and the next
 * join would pay it for each query it makes at once.
 */
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createPostgresStore } from '../server/store/postgres.js';
import { PG_URL, uniqueName, uniqueSchema } from './fixtures/services.js';
import { waitFor } from './helpers.js';

describe('PostgreSQL pool', () => {
  it('opens its warm connections at start and keeps them through a lull, closing only the ones above them', async () => {
    const name = uniqueName('duet_pool');
    const store = await createPostgresStore({ url: PG_URL, schema: uniqueSchema(), idleTimeoutMs: 1000, applicationName: name });
    onTestFinished(() => store.close());
    const watcher = new pg.Client({ connectionString: PG_URL });
    await watcher.connect();
    onTestFinished(() => watcher.end());
    const open = async () => Number((await watcher.query('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [name])).rows[0].n);

    expect(await open()).toBe(4);
    // A burst needs more: the pool grows, then settles back to the warm ones.
    await Promise.all(Array.from({ length: 8 }, () => store.readEvents('none', { after: 0, limit: 1 })));
    expect(await open()).toBeGreaterThan(4);
    await waitFor(async () => (await open()) === 4);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await open()).toBe(4);
  });
});
