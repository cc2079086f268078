/**
 * Which store failures count as the database out of reach (answered
 * `unavailable`) and which as bugs (`internal`), from errors the real
 * drivers raise, not made-up ones.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { logLevelOf, storeOutage } from '../server/store/unreachable.js';
import { PG_URL } from './fixtures/services.js';
import { tempDir } from './helpers.js';

async function caught(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('store outages', () => {
  it('PostgreSQL: a refused connection and a pool that cannot connect are passing outages; a bad statement is a bug', async () => {
    const url = new URL(PG_URL);
    url.port = String(await closedPort());
    const refused = await caught(async () => {
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
    });
    expect(storeOutage(refused)).toBe('passing');
    const pool = new pg.Pool({ connectionString: url.toString(), connectionTimeoutMillis: 2000 });
    const fromPool = await caught(() => pool.query('SELECT 1'));
    await pool.end();
    expect(storeOutage(fromPool)).toBe('passing');
    expect(logLevelOf(fromPool)).toBe('warn');

    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const syntax = await caught(() => client.query('SELEC 1'));
      expect((syntax as { code?: string }).code).toBe('42601');
      expect(storeOutage(syntax)).toBeUndefined();
      expect(logLevelOf(syntax)).toBe('error');
    } finally {
      await client.end();
    }
    // A client used after the connection ended (as during a shutdown).
    const closed = await caught(() => client.query('SELECT 1'));
    expect(storeOutage(closed)).toBe('passing');
  });

  it('SQLite: a file locked past the busy timeout is a passing outage, a read-only one lasting, a missing table a bug', async () => {
    const file = join(tempDir(), 'locked.sqlite');
    const holder = new SQLite(file);
    holder.pragma('journal_mode = WAL');
    holder.exec('CREATE TABLE t (x INTEGER)');
    const other = new SQLite(file);
    other.pragma('busy_timeout = 0');
    holder.exec('BEGIN IMMEDIATE');
    try {
      const busy = await caught(() => other.exec('INSERT INTO t VALUES (1)'));
      expect((busy as { code?: string }).code).toBe('SQLITE_BUSY');
      expect(storeOutage(busy)).toBe('passing');
    } finally {
      holder.exec('ROLLBACK');
    }
    const readonly = new SQLite(file, { readonly: true });
    const refused = await caught(() => readonly.exec('INSERT INTO t VALUES (1)'));
    expect(storeOutage(refused)).toBe('lasting');
    expect(logLevelOf(refused)).toBe('error');
    const missing = await caught(() => other.exec('SELECT * FROM nowhere'));
    expect(storeOutage(missing)).toBeUndefined();
    expect(storeOutage(new TypeError("Cannot read properties of undefined (reading 'seq')"))).toBeUndefined();
    for (const db of [holder, other, readonly]) db.close();
  });
});
