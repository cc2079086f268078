/**
 * Where an idle socket's heap goes, for memory work: one node's heap snapshot
 * with R rooms x 2 idle clients and one with R rooms x 8, then the difference
 * per extra socket on that node, grouped by V8 type and constructor.
 *
 *   npx tsx bench/heap-per-socket.ts [--rooms 100] [--system duet|hocuspocus]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runTrial } from './trial.js';
import type { SystemName } from './workload.js';

const { values: a } = parseArgs({ options: { rooms: { type: 'string', default: '100' }, system: { type: 'string', default: 'duet' }, top: { type: 'string', default: '40' } } });
const rooms = Number(a.rooms);
const system = a.system as SystemName;

interface Group {
  count: number;
  bytes: number;
}

/** Self size by "type: constructor" (strings, code and closures grouped by kind). */
function groups(file: string): Map<string, Group> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const out = new Map<string, Group>();
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const type = types[snap.nodes[i + iType]!]!;
    const name = /string|number/.test(type) ? '' : snap.strings[snap.nodes[i + iName]!]!.slice(0, 60);
    const key = `${type}: ${name}`.slice(0, 100);
    const g = out.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += snap.nodes[i + iSize]!;
    out.set(key, g);
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'duet-heap-'));
try {
  const idle = { connectConcurrency: 64, rate: 0, typistAwarenessHz: 0, idleAwarenessHz: 0, chatEveryS: 0, warmupS: 0, durationS: 1, trace: undefined, generatorCpu: 1, generators: 1, rooms, seed: 1 };
  const cluster = { system, nodes: 2, store: 'postgres' as const, adapter: 'sharded' as const, hpPersist: 'postgres' as const };
  const snapshots: string[] = [];
  for (const clientsPerRoom of [2, 8]) {
    const file = join(dir, `${clientsPerRoom}.heapsnapshot`);
    process.env.BENCH_HEAP_SNAPSHOT = file;
    await runTrial({ ...idle, clientsPerRoom, cluster });
    snapshots.push(file);
  }
  const [small, big] = snapshots.map(groups) as [Map<string, Group>, Map<string, Group>];
  const extra = (rooms * 6) / 2; // node 1 of 2 holds half of the extra sockets
  const rows = [...big].map(([k, g]) => {
    const s = small.get(k) ?? { count: 0, bytes: 0 };
    return { key: k, count: (g.count - s.count) / extra, bytes: (g.bytes - s.bytes) / extra };
  });
  rows.sort((x, y) => y.bytes - x.bytes);
  const total = rows.reduce((acc, r) => acc + r.bytes, 0);
  console.log(`${system}: ${(total / 1024).toFixed(1)} KiB of heap per extra idle socket (self sizes, node 1 of 2)`);
  for (const r of rows.slice(0, Number(a.top))) console.log(`${r.bytes.toFixed(0).padStart(7)} B ${r.count.toFixed(2).padStart(6)}x  ${r.key}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
