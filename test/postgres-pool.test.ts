/**
 * A node between interviews keeps a few database connections open: opening
 * one costs PostgreSQL a new backend, many times a query's cost, and the next
 * join would pay it for each query it makes at once.
 */
import pg from 'pg';
import type { Kysely } from 'kysely';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Database } from '../server/store/schema.js';
import { storeOutage } from '../server/store/unreachable.js';
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

  it("ends a transaction its node left open (frozen mid-commit), so its row locks do not hold up the other nodes' commits", async () => {
    const schema = uniqueSchema();
    const frozen = await createPostgresStore({ url: PG_URL, schema, idleInTransactionTimeoutMs: 1000 });
    onTestFinished(() => frozen.close());
    const other = await createPostgresStore({ url: PG_URL, schema });
    onTestFinished(() => other.close());
    const actor = { sub: 'ada', name: 'Ada', role: 'interviewer' as const };
    const at = new Date().toISOString();
    const iv = await other.createInterview({ id: uniqueName('iv'), title: 'T', language: 'python', createdAt: at, createdBy: actor }, []);
    // The frozen node's transaction: the interview's row locked, then nothing more.
    const db = (frozen as unknown as { db: Kysely<Database> }).db;
    const trx = await db.startTransaction().execute();
    await trx.updateTable('interviews').set({ title: 'mid-commit' }).where('id', '=', iv.id).execute();
    // The other node's commit to the same interview waits for the lock, then goes through once PostgreSQL ends that session.
    const appended = await other.append(iv.id, [{ type: 'chat', at, actor, data: { channel: 'room', text: 'still here' } }], { requireOpen: true });
    expect(appended.events.map((e) => e.seq)).toEqual([1]);
    expect((await other.getInterview(iv.id))?.title).toBe('T');
    // Its node, were it to wake, finds the transaction gone (an outage to retry, not a bug) and gives the connection back.
    const woke = await trx.commit().execute().then(() => undefined, (err: unknown) => err);
    expect(storeOutage(woke)).toBe('passing');
    await trx.rollback().execute().catch(() => {});
  });
});
