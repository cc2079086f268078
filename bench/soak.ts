/**
 * npm run soak: a bounded soak on loopback. Rooms open and close in cycles
 * (interviews created, three participants each typing, chatting and moving
 * cursors, then everyone leaves); between cycles, once the rooms have
 * unloaded, the node's memory (after forced GC), file descriptors, live
 * handles and listeners are sampled. It passes when the last sample is back
 * at the baseline taken after the warm-up cycle, within a small tolerance.
 *
 *   npm run soak -- [--seconds 150] [--rooms 20] [--edits 40] [--json out.json]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io as ioc } from 'socket.io-client';
import * as Y from 'yjs';
import { DuetProvider, type DuetClientSocket } from '../shared/provider.js';
import { spawnChild } from './processes.js';
import { signToken } from './tokens.js';

type Sample = {
  heapUsed: number;
  rss: number;
  external: number;
  arrayBuffers: number;
  fds: number;
  resources: Record<string, number>;
  rooms: number;
  sockets: number;
  adapterRooms: number;
  engineClients: number;
  listeners: Record<string, number>;
};

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}
const SECONDS = arg('seconds', 150);
const ROOMS = arg('rooms', 20);
const EDITS = arg('edits', 40);
const UNLOAD_MS = 2000;
const jsonOut = process.argv.includes('--json') ? process.argv[process.argv.indexOf('--json') + 1] : undefined;
const snapshotDir = process.argv.includes('--snapshots') ? process.argv[process.argv.indexOf('--snapshots') + 1] : undefined;

const SECRET = 'soak-secret-that-is-long-enough-for-hs256!';
const dataDir = mkdtempSync(join(tmpdir(), 'duet-soak-'));
const overrides = {
  port: 0,
  host: '127.0.0.1',
  dataDir,
  jwtSecret: SECRET,
  logLevel: 'warn',
  // The soak is one address opening thousands of sockets: lift the per-IP budgets.
  handshakesPerMinute: 1_000_000,
  httpRequestsPerMinute: 1_000_000,
};
const child = spawnChild(process.execPath, ['--expose-gc', '--import', 'tsx', join(import.meta.dirname, 'soak-node.ts'), JSON.stringify(overrides), String(UNLOAD_MS)], {
  label: 'soak node',
});
const pending = new Map<string, (msg: any) => void>();
child.proc.on('message', (msg: any) => pending.get(msg.type)?.(msg));
const next = (type: string) => new Promise<any>((resolve) => pending.set(type, resolve));
const { port } = await next('listening');
const url = `http://127.0.0.1:${port}`;
const sample = async (): Promise<Sample> => {
  const reply = next('sample');
  child.proc.send({ type: 'sample' });
  return (await reply).sample;
};

async function api(path: string, token: string, body?: unknown): Promise<any> {
  const res = await fetch(url + path, {
    method: body ? 'POST' : 'GET',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function connect(token: string, docs: Array<'main' | 'notes'>): Promise<{ socket: DuetClientSocket; provider: DuetProvider }> {
  const socket: DuetClientSocket = ioc(url, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false });
  const provider = new DuetProvider(socket, docs);
  await Promise.all(docs.map((d) => provider.whenSynced(d)));
  return { socket, provider };
}

const until = (check: () => boolean, ms = 20_000) =>
  new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + ms;
    const tick = () => (check() ? resolve() : Date.now() > deadline ? reject(new Error('soak: timed out waiting')) : setTimeout(tick, 5));
    tick();
  });

/** One cycle: ROOMS interviews open, three people type, chat and move cursors, everyone leaves. */
async function cycle(n: number, whileLoaded?: () => Promise<void>): Promise<number> {
  const owner = await signToken(SECRET, { role: 'interviewer', name: `Owner ${n}` });
  let events = 0;
  // Every room waits here, typed and synced, until the sample of the loaded node is taken.
  let arrived = 0;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const arrive = async () => {
    if (++arrived === ROOMS) {
      await whileLoaded?.();
      release();
    }
    await released;
  };
  await Promise.all(
    Array.from({ length: ROOMS }, async (_, r) => {
      const iv = await api('/api/interviews', owner, { title: `soak ${n}.${r}`, language: 'python' });
      const invite = async (role: string, name: string) => (await api(`/api/interviews/${iv.id}/invites`, iv.token, { role, name })).token as string;
      const people = [
        await connect(await invite('candidate', 'Cy'), ['main']),
        await connect(await invite('interviewer', 'Ida'), ['main', 'notes']),
        await connect(await invite('observer', 'Olga'), ['main', 'notes']),
      ];
      const [cand, ida, obs] = people;
      for (let i = 0; i < EDITS; i++) {
        const writer = i % 2 === 0 ? cand! : ida!;
        const text = [...writer.provider.doc('main').getMap<Y.Text>('files').values()][0]!;
        text.insert(text.length, i % 10 === 9 ? '\n' : 'x');
        const at = Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(text, text.length));
        writer.provider.awareness('main').setLocalStateField('cursor', { file: 'main.py', selections: [{ anchor: at, head: at }] });
        if (i % 10 === 0) obs!.provider.doc('notes').getText('notes').insert(0, 'n');
        if (i % 4 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      await cand!.socket.emitWithAck('chat:send', { channel: 'room', text: `hello ${n}` });
      await ida!.socket.emitWithAck('chat:send', { channel: 'panel', text: `note ${n}` });
      await until(() => people.every((p) => p.provider.pending === 0));
      events += EDITS + 2;
      await arrive();
      for (const p of people) {
        p.provider.destroy();
        p.socket.disconnect();
      }
    }),
  );
  return events;
}

const fmtMB = (b: number) => (b / 1024 / 1024).toFixed(1);
const rows: Array<{ label: string; s: Sample; at: number }> = [];
const t0 = Date.now();
const record = async (label: string) => {
  // The rooms unload UNLOAD_MS after their last socket leaves.
  await new Promise((r) => setTimeout(r, UNLOAD_MS + 1000));
  const s = await sample();
  rows.push({ label, s, at: Math.round((Date.now() - t0) / 1000) });
  console.log(
    `${label.padEnd(12)} t=${String(Math.round((Date.now() - t0) / 1000)).padStart(4)}s heap ${fmtMB(s.heapUsed)} MB rss ${fmtMB(s.rss)} MB ext ${fmtMB(s.external)} MB fds ${s.fds} rooms ${s.rooms} sockets ${s.sockets} adapterRooms ${s.adapterRooms} timers ${s.resources.Timeout ?? 0} tcp ${s.resources.TCPSocketWrap ?? 0} listeners ${JSON.stringify(s.listeners)}`,
  );
  return s;
};

let ok = false;
let totalEvents = 0;
let cycles = 0;
try {
  await record('start');
  totalEvents += await cycle(0);
  cycles++;
  const baseline = await record('baseline');
  const snapshot = async (name: string) => {
    if (!snapshotDir) return;
    const done = next('snapshot');
    child.proc.send({ type: 'snapshot', file: join(snapshotDir, `${name}.heapsnapshot`) });
    console.log(`heap snapshot: ${(await done).file}`);
  };
  await snapshot('baseline');
  let loaded: Sample | undefined;
  totalEvents += await cycle(cycles, async () => {
    loaded = await sample();
    console.log(`loaded       heap ${fmtMB(loaded.heapUsed)} MB rss ${fmtMB(loaded.rss)} MB fds ${loaded.fds} rooms ${loaded.rooms} sockets ${loaded.sockets} timers ${loaded.resources.Timeout ?? 0}`);
  });
  cycles++;
  await record(`cycle ${cycles}`);
  while (Date.now() - t0 < SECONDS * 1000) {
    totalEvents += await cycle(cycles);
    cycles++;
    await record(`cycle ${cycles}`);
  }
  const last = await record('end');
  await snapshot('end');
  const peakHeap = Math.max(...rows.map((r) => r.s.heapUsed));
  // Least-squares slope of the heap over the cycles after the baseline: a leak grows per cycle.
  const after = rows.filter((r) => r.label.startsWith('cycle'));
  const xs = after.map((_, i) => i);
  const mx = xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const my = after.reduce((a, r) => a + r.s.heapUsed, 0) / Math.max(1, after.length);
  const slope = xs.length > 1 ? xs.reduce((a, x, i) => a + (x - mx) * (after[i]!.s.heapUsed - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0) : 0;
  const heapGrowth = last.heapUsed - baseline.heapUsed;
  const checks = {
    'rooms unloaded': last.rooms === 0 && last.adapterRooms === 0,
    'no sockets left': last.sockets === 0 && last.engineClients === 0,
    // Heap back within 10% (or 4 MB) of the baseline after the warm-up cycle.
    'heap at baseline': heapGrowth <= Math.max(4 * 1024 * 1024, baseline.heapUsed * 0.1),
    'no fd growth': last.fds <= baseline.fds + 2,
    'no timer growth': (last.resources.Timeout ?? 0) <= (baseline.resources.Timeout ?? 0) + 2,
    'no listener growth': Object.entries(last.listeners).every(([k, v]) => v <= (baseline.listeners[k] ?? 0)),
  };
  console.log(
    `\n${cycles} cycles of ${ROOMS} rooms x 3 participants in ${Math.round((Date.now() - t0) / 1000)} s; ${totalEvents} client events; ` +
      `${cycles * ROOMS} interviews, ${cycles * ROOMS * 3} sockets opened and closed.\n` +
      `heap: baseline ${fmtMB(baseline.heapUsed)} MB, peak between cycles ${fmtMB(peakHeap)} MB, end ${fmtMB(last.heapUsed)} MB (${heapGrowth >= 0 ? '+' : ''}${fmtMB(heapGrowth)} MB); ` +
      `rss baseline ${fmtMB(baseline.rss)} MB, end ${fmtMB(last.rss)} MB; fds ${baseline.fds} -> ${last.fds}.\n` +
      `with ${ROOMS} rooms loaded and ${ROOMS * 3} sockets: heap ${fmtMB(loaded!.heapUsed)} MB, rss ${fmtMB(loaded!.rss)} MB, fds ${loaded!.fds}. ` +
      `heap trend over the cycles: ${(slope / 1024).toFixed(0)} KB per cycle.`,
  );
  for (const [name, pass] of Object.entries(checks)) console.log(`  ${pass ? 'PASS' : 'FAIL'}  ${name}`);
  ok = Object.values(checks).every(Boolean);
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ seconds: SECONDS, rooms: ROOMS, edits: EDITS, cycles, totalEvents, checks, loaded, slope, rows }, null, 2));
} finally {
  child.proc.send({ type: 'close' });
  await Promise.race([child.exited, new Promise((r) => setTimeout(r, 10_000))]);
  await child.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(ok ? 0 : 1);
