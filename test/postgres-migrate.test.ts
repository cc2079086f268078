/**
 * Nodes migrate at start-up in a database other things use. Kysely's migrator
 * asks whether its tables exist, and its stock PostgreSQL introspector answers
 * by listing every schema's tables, which fails if another schema is dropped
 * meanwhile (server/store/postgres-introspector.ts). A start-up must not.
 */
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createPostgresStore } from '../server/store/postgres.js';
import { PG_URL, dropSchema, uniqueName, uniqueSchema } from './fixtures/services.js';

describe('PostgreSQL migrations', () => {
  it('succeed while other schemas of the database are created and dropped', async () => {
    const churn = new pg.Client({ connectionString: PG_URL });
    await churn.connect();
    onTestFinished(() => churn.end());
    let stop = false;
    const names: string[] = [];
    // Another tenant (or a test's clean-up) dropping schemas with tables in them, over and over.
    const churning = (async () => {
      while (!stop) {
        const name = uniqueName('duet_churn');
        names.push(name);
        await churn.query(`CREATE SCHEMA ${name}`);
        await churn.query(`CREATE TABLE ${name}.t (id serial primary key, a text, b text, c text)`);
        await churn.query(`DROP SCHEMA ${name} CASCADE`);
      }
    })();
    onTestFinished(async () => {
      for (const name of names) await dropSchema(name);
    });
    const failures: string[] = [];
    try {
      for (let i = 0; i < 12; i++) {
        try {
          const store = await createPostgresStore({ url: PG_URL, schema: uniqueSchema(), poolSize: 2 });
          await store.close();
        } catch (err) {
          failures.push(String(err));
        }
      }
    } finally {
      stop = true;
      await churning;
    }
    expect(failures).toEqual([]);
  });
});
