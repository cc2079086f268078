/**
 * Two server processes of one system on loopback, the same shape for Duet and
 * Hocuspocus: the same Redis, the same PostgreSQL (a fresh schema per run),
 * the event-loop probe preloaded, optionally --cpu-prof. Duet's nodes run as
 * its `npm start` runs them (startCommand), Hocuspocus's with the same node
 * flags unless given others; both as plain JavaScript.
 * stop() kills both by PID and drops the schema.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import pg from 'pg';
import { ask, spawnChild, waitFor, type Child } from '../processes.js';
import type { SystemName } from '../workload.js';

export const PROJECT_ROOT = join(import.meta.dirname, '..', '..');
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface ClusterOptions {
  system: SystemName;
  nodes: number;
  /** Duet's event log: PostgreSQL (shared by the nodes) or one SQLite file per... (only with nodes = 1). */
  store: 'postgres' | 'sqlite';
  /** Duet's Redis adapter. */
  adapter: 'sharded' | 'classic';
  /** Hocuspocus persistence: extension-database to PostgreSQL, or memory only. */
  hpPersist: 'postgres' | 'none';
  /** Write a V8 CPU profile of each node here. */
  cpuProfDir?: string | undefined;
  /** Another checkout of Duet to run (a before/after comparison); its node_modules must resolve. */
  duetRoot?: string | undefined;
  /** Duet without Redis (one node on SQLite, as on a laptop); Redis otherwise. */
  noRedis?: boolean;
  /** Node flags for Hocuspocus's nodes; by default those this checkout's `npm start` gives Duet's (whatever `duetRoot` is). */
  hpNodeFlags?: string[];
  /** Extra environment for the nodes (levers under test). */
  env?: Record<string, string>;
}

export interface Cluster {
  system: SystemName;
  nodes: Child[];
  /** Client URLs of the nodes (http:// for Duet, ws:// for Hocuspocus). */
  urls: string[];
  httpUrls: string[];
  secret: string;
  stop(): Promise<void>;
  /**
   * Stops node i and starts a fresh process in its place (same port, same
   * settings): gracefully, or with SIGKILL, as when a node dies.
   */
  restart(i: number, how?: 'stop' | 'kill'): Promise<void>;
}

export interface Probe {
  type: 'probe';
  eld: { p50: number; p99: number; max: number; mean: number };
  /** The collector's entries since the last reset: how many (all, full), and their sum, longest and longest full one (ms). */
  gc: { count: number; majorCount: number; totalMs: number; maxMs: number; majorMaxMs: number };
  /** The old generation's growth since the last reset (or the process's start), before this probe's own collections; net of the window's full ones, so it can be negative. */
  oldGrowthMiB: number;
  memory: NodeJS.MemoryUsage;
  monoUs: number;
}

/**
 * How `npm start` runs a Duet node (the checkout's package.json), so the bench
 * runs it as it is deployed: its node flags, its entry, and whether that entry
 * is TypeScript through tsx (older checkouts) or the bundle `build:server` writes.
 */
export interface StartCommand {
  flags: string[];
  entry: string;
  tsx: boolean;
}

export function startCommand(root: string): StartCommand {
  const start: string = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts.start;
  if (start === 'tsx server/main.ts') return { flags: [], entry: 'server/main.ts', tsx: true };
  const m = /^node((?: --[a-z][a-z0-9-]*(?:=[\w.-]+)?)*)( --import tsx server\/main\.ts| dist\/server\/main\.js)$/.exec(start);
  if (!m) throw new Error(`bench: cannot tell how this start script runs a node: ${start}`);
  const flags = m[1]!.trim().split(/\s+/).filter(Boolean);
  return m[2] === ' dist/server/main.js' ? { flags, entry: 'dist/server/main.js', tsx: false } : { flags, entry: 'server/main.ts', tsx: true };
}

/** A Duet node's node arguments as `npm start` gives them, with `extra` (the bench's probe) before the entry. */
export function duetNodeArgs(start: StartCommand, extra: string[] = []): string[] {
  return [...start.flags, ...(start.tsx ? ['--import', 'tsx'] : []), ...extra, start.entry];
}

export const PROBE_JS = join(PROJECT_ROOT, 'dist', 'bench', 'node-probe.mjs');
export const HOCUSPOCUS_JS = join(PROJECT_ROOT, 'dist', 'bench', 'hocuspocus-node.mjs');

/**
 * Built once per bench process: this bench's probe and Hocuspocus node as
 * plain JavaScript, so neither system's nodes load tsx (a loader thread and
 * ~40 MiB of RSS); and, once per Duet checkout, its bundle (its own
 * `build:server`, as its prestart does).
 */
let benchPrograms: Promise<void> | undefined;
const duetBundles = new Map<string, Promise<void>>();

export function prepareNodes(system: SystemName, duetRoot: string = PROJECT_ROOT): Promise<void> {
  benchPrograms ??= (async () => {
    const common = { bundle: true, platform: 'node', format: 'esm', packages: 'external', target: 'node20', logLevel: 'warning' } as const;
    await build({ ...common, entryPoints: [join(PROJECT_ROOT, 'bench', 'node-probe.ts')], outfile: PROBE_JS });
    await build({ ...common, entryPoints: [join(PROJECT_ROOT, 'bench', 'systems', 'hocuspocus-node.ts')], outfile: HOCUSPOCUS_JS });
  })();
  if (system !== 'duet' || startCommand(duetRoot).tsx) return benchPrograms;
  let bundle = duetBundles.get(duetRoot);
  if (!bundle) {
    bundle = benchPrograms.then(() => {
      execFileSync('npm', ['run', '-s', 'build:server'], { cwd: duetRoot, stdio: 'inherit' });
    });
    duetBundles.set(duetRoot, bundle);
  }
  return bundle;
}

export function probe(node: Child, options: { reset?: boolean; gc?: boolean; heapSnapshot?: string } = {}): Promise<Probe> {
  return ask<Probe>(node, { type: 'probe', ...options });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function waitHttp(url: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > end) throw new Error(`${url} not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const tag = randomBytes(4).toString('hex');
  const schema = `bench_${options.system === 'duet' ? 'd' : 'h'}_${tag}`;
  const secret = randomBytes(32).toString('hex');
  const dataDir = mkdtempSync(join(tmpdir(), 'duet-bench-'));
  const nodes: Child[] = [];
  const ports: number[] = [];
  const usesPg = options.system === 'duet' ? options.store === 'postgres' : options.hpPersist === 'postgres';

  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop(5000)));
    rmSync(dataDir, { recursive: true, force: true });
    if (usesPg) {
      const client = new pg.Client({ connectionString: DATABASE_URL });
      try {
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } catch (err) {
        process.stderr.write(`[bench] could not drop schema ${schema}: ${String(err)}\n`);
      } finally {
        await client.end().catch(() => {});
      }
    }
  };

  const duetRoot = options.duetRoot ?? PROJECT_ROOT;
  const duetStart = options.system === 'duet' ? startCommand(duetRoot) : undefined;
  await prepareNodes(options.system, duetRoot);
  const startNode = async (i: number, port: number): Promise<Child> => {
    const nodeArgs = ['--expose-gc', '--import', PROBE_JS];
    // One directory per node: each thread (the main one, tsx's loader in older checkouts) writes its own profile.
    if (options.cpuProfDir) nodeArgs.push('--cpu-prof', '--cpu-prof-dir', join(options.cpuProfDir, `node${i}`));
    const common = {
      PORT: String(port),
      JWT_SECRET: secret,
      NODE_ENV: 'production',
      // Duet's nodes run from their checkout (--duet-root), Hocuspocus's from this one: a relative
      // directory means one under where the benchmark was started, for both.
      ...(process.env.BENCH_HEAP_SAMPLE_DIR ? { BENCH_HEAP_SAMPLE_DIR: resolve(process.env.BENCH_HEAP_SAMPLE_DIR) } : {}),
    };
    let child: Child;
    if (options.system === 'duet') {
      const env = {
        ...process.env,
        ...common,
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
        // Without Redis even if the shell exports a REDIS_URL (spawn leaves out undefined values).
        ...(options.noRedis ? { REDIS_URL: undefined } : { REDIS_URL, REDIS_KEY_PREFIX: `bench${tag}`, REDIS_ADAPTER: options.adapter }),
        // The benchmark raises the abuse limits: every client comes from 127.0.0.1.
        SOCKET_EVENTS_PER_SECOND: '10000',
        SOCKET_EVENT_BURST: '100000',
        HANDSHAKES_PER_MINUTE: '10000000',
        HTTP_REQUESTS_PER_MINUTE: '10000000',
        ...(options.store === 'postgres' ? { DATABASE_URL, DATABASE_SCHEMA: schema } : {}),
        ...options.env,
      };
      child = spawnChild(process.execPath, duetNodeArgs(duetStart!, nodeArgs), { cwd: duetRoot, env, label: `duet node ${i}`, quiet: true });
      nodes[i] = child;
      await waitHttp(`http://127.0.0.1:${port}/readyz`, 30_000);
    } else {
      const env = {
        ...process.env,
        ...common,
        REDIS_URL,
        REDIS_PREFIX: `hpbench${tag}`,
        HP_PERSIST: options.hpPersist,
        DATABASE_URL,
        HP_SCHEMA: schema,
        ...options.env,
      };
      child = spawnChild(process.execPath, [...(options.hpNodeFlags ?? startCommand(PROJECT_ROOT).flags), ...nodeArgs, HOCUSPOCUS_JS], {
        cwd: PROJECT_ROOT,
        env,
        label: `hocuspocus node ${i}`,
        quiet: true,
      });
      nodes[i] = child;
      await waitFor(child, 'listening', 30_000);
    }
    return child;
  };

  try {
    // One at a time: Duet's nodes migrate the new schema under a lock anyway.
    for (let i = 0; i < options.nodes; i++) {
      const port = await freePort();
      ports.push(port);
      await startNode(i, port);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const httpUrls = ports.map((p) => `http://127.0.0.1:${p}`);
  return {
    system: options.system,
    nodes,
    urls: options.system === 'duet' ? httpUrls : ports.map((p) => `ws://127.0.0.1:${p}`),
    httpUrls,
    secret,
    stop,
    async restart(i, how = 'stop') {
      await (how === 'kill' ? nodes[i]!.kill() : nodes[i]!.stop(5000));
      await startNode(i, ports[i]!);
    },
  };
}
