/**
 * What one of Duet's commits costs PostgreSQL, on an otherwise idle machine:
 * N group commits of one edit each, one after another, through the store's
 * own statement; the wall time of each and the CPU of every `postgres`
 * process over the run (backends, WAL writer: /proc/<pid>/stat), per commit.
 * Beside it, for scale: `floor`, a one-row INSERT committed the same way, and
 * `select`, a round trip that writes nothing; `nofk`, the group commit with
 * the events' foreign key dropped (what its check costs). Every `postgres`
 * process is counted, so nothing else may use PostgreSQL meanwhile.
 *
 *   npx tsx bench/commit-cost.ts [--commits 3000] [--variant group|nofk|floor|select]
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createPostgresStore } from '../server/store/postgres.js';
import { cpuDelta, cpuSecondsOfNamed } from './processes.js';
import { DATABASE_URL } from './systems/cluster.js';

const { values: a } = parseArgs({ options: { commits: { type: 'string', default: '3000' }, variant: { type: 'string', default: 'group' } } });
const commits = Number(a.commits);
const variant = a.variant!;
if (!['group', 'nofk', 'floor', 'select'].includes(variant)) throw new Error('--variant takes group, nofk, floor or select');

const schema = `bench_commit_${process.pid}`;
const isPostgres = (comm: string) => comm === 'postgres';
if (cpuSecondsOfNamed(isPostgres).size === 0) throw new Error('no postgres process visible here: its CPU cannot be read (PostgreSQL must run on this machine)');
const admin = new pg.Client({ connectionString: DATABASE_URL });
let store: Awaited<ReturnType<typeof createPostgresStore>> | undefined;
try {
  await admin.connect();
  const opened = await createPostgresStore({ url: DATABASE_URL, schema, poolSize: 2 });
  store = opened;
  if (variant === 'nofk') {
    const { rows } = await admin.query<{ conname: string }>(
      `SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = '${schema}.events'::regclass`,
    );
    for (const r of rows) await admin.query(`ALTER TABLE ${schema}.events DROP CONSTRAINT ${r.conname}`);
  }
  await admin.query(`CREATE TABLE ${schema}.plain (a int, b bytea)`);
  await opened.createInterview({ id: 'iv1', title: 'commit cost', language: 'typescript', createdAt: new Date().toISOString(), createdBy: { sub: 'u1', name: 'Ada', role: 'interviewer' } }, []);
  const actor = { sub: 'u1', name: 'Ada', role: 'candidate' as const };
  const bin = new Uint8Array(40).fill(7); // about a keystroke's Yjs update
  const one: () => Promise<unknown> =
    variant === 'floor'
      ? () => admin.query({ name: 'plain_insert', text: `INSERT INTO ${schema}.plain VALUES ($1, $2)`, values: [1, bin] })
      : variant === 'select'
        ? () => admin.query({ name: 'plain_select', text: 'SELECT 1', values: [] })
        : () => opened.appendMany([{ interviewId: 'iv1', events: [{ type: 'doc', at: new Date().toISOString(), actor, data: {}, doc: 'main', bin }] }], { requireOpen: true });
  for (let i = 0; i < 300; i++) await one(); // warm: plans, caches, the JIT
  const cpu0 = cpuSecondsOfNamed(isPostgres);
  const t0 = performance.now();
  const ms: number[] = [];
  for (let i = 0; i < commits; i++) {
    const s = performance.now();
    await one();
    ms.push(performance.now() - s);
  }
  const wall = performance.now() - t0;
  const cpu = cpuDelta(cpu0, cpuSecondsOfNamed(isPostgres));
  ms.sort((x, y) => x - y);
  const q = (p: number) => ms[Math.floor(p * (ms.length - 1))]!.toFixed(3);
  console.log(
    `${variant}: ${commits} one after another, ${(wall / commits).toFixed(3)} ms each (p50 ${q(0.5)}, p99 ${q(0.99)}), PostgreSQL CPU ${((cpu * 1e6) / commits).toFixed(0)} µs each`,
  );
} finally {
  await store?.close();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
  await admin.end().catch(() => {});
}
