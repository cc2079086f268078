/**
 * The load generator: a child process of the benchmark, pinned to one core.
 * It plays R rooms x C real clients against two nodes and reports what the
 * clients saw. Config in BENCH_CONFIG (JSON WorkloadConfig); it talks to the
 * orchestrator over IPC: connected -> (go) -> window-start -> window-end -> result.
 *
 * Latency: every edit of a room's typist has a position in the typist's state
 * sequence, (Yjs clock of the typist, text length): inserts raise the clock,
 * deletes lower the length, so the sequence is strictly ordered. A receiver
 * applies the typist's updates in order, so after each remote transaction its
 * (clock, length) names the newest edit it has; every edit up to that one is
 * timed there, from the typist's local change to the receiver's applied change.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import * as Y from 'yjs';
import { connectDuet, connectHocuspocus, FILE, textOf, type BenchClient } from './clients.js';
import { createHistogram, encode, recordMs, summarize, type Histogram } from './histogram.js';
import { runQueueSeconds } from './processes.js';
import { createRng, randInt, type Rng } from './prng.js';
import { signToken } from './tokens.js';
import { applyEdit, loadTrace, syntheticSource, traceSource, type EditSource, type Trace } from './typing.js';
import type { WorkloadConfig, WorkloadResult } from './workload.js';

interface Receiver {
  client: BenchClient;
  cross: boolean;
  idx: number;
}

interface RoomRun {
  id: string;
  typist: BenchClient;
  typistNode: number;
  receivers: Receiver[];
  clients: BenchClient[];
  source: EditSource;
  clock: number[];
  len: number[];
  t0: number[];
  timers: NodeJS.Timeout[];
}

const cfg = JSON.parse(process.env.BENCH_CONFIG ?? '{}') as WorkloadConfig;
const send = (m: object) => process.send?.(m);
const errors: string[] = [];
const noteError = (e: unknown) => {
  if (errors.length < 20) errors.push(String(e instanceof Error ? e.message : e));
};

const hist = { cross: createHistogram(), same: createHistogram(), all: createHistogram() };
let inWindow = false;
let windowStart = Infinity;
let windowEnd = Infinity;
const delivered = { doc: 0, awareness: 0, chat: 0 };

async function createRooms(rng: Rng): Promise<string[]> {
  if (cfg.system === 'hocuspocus') {
    return Array.from({ length: cfg.rooms }, (_, i) => `bench-${cfg.seed}-${cfg.roomOffset + i}-${randInt(rng, 0, 1e9).toString(36)}`);
  }
  const admin = await signToken(cfg.secret, { role: 'admin', name: 'bench' });
  const ids: string[] = new Array(cfg.rooms);
  let next = 0;
  const worker = async () => {
    while (next < cfg.rooms) {
      const i = next++;
      const res = await fetch(`${cfg.urls[i % cfg.urls.length]}/api/interviews`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        // typescript: its file is main.ts
        body: JSON.stringify({ title: `bench ${i}`, language: 'typescript' }),
      });
      if (res.status !== 201) throw new Error(`create interview: ${res.status} ${await res.text()}`);
      ids[i] = ((await res.json()) as { id: string }).id;
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return ids;
}

function connect(url: string, room: string, token: string): BenchClient {
  return cfg.system === 'duet' ? connectDuet({ url, room, token }, { awarenessResendMs: cfg.awarenessResendMs }) : connectHocuspocus({ url, room, token });
}

async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits for `cond` while `progress()` keeps changing: fails after `stallMs` without a change, or `capMs` in all. */
async function waitWhileProgressing(cond: () => boolean, progress: () => number, stallMs: number, capMs: number, what: string): Promise<void> {
  const start = Date.now();
  let last = progress();
  let lastChange = start;
  while (!cond()) {
    const now = Date.now();
    const p = progress();
    if (p !== last) [last, lastChange] = [p, now];
    if (now - lastChange > stallMs) throw new Error(`timed out waiting for ${what} (nothing arrived for ${stallMs / 1000} s)`);
    if (now - start > capMs) throw new Error(`timed out waiting for ${what} (still arriving after ${capMs / 1000} s)`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function joinRoom(index: number, id: string, rng: Rng, trace: Trace | undefined, joinHist: Histogram): Promise<RoomRun> {
  const typistNode = (cfg.roomOffset + index) % 2;
  const clients: BenchClient[] = [];
  const nodes: number[] = [];
  await Promise.all(
    Array.from({ length: cfg.clientsPerRoom }, async (_, c) => {
      const node = (typistNode + c) % cfg.urls.length;
      const role = c === 0 ? 'candidate' : 'interviewer';
      const token = await signToken(cfg.secret, { role, name: `${role} ${c}`, iid: id });
      const started = performance.now();
      const client = connect(cfg.urls[node]!, id, token);
      clients[c] = client;
      nodes[c] = node;
      await client.synced;
      recordMs(joinHist, performance.now() - started);
    }),
  );
  const typist = clients[0]!;
  if (cfg.system === 'hocuspocus' && !textOf(typist)) {
    // Duet's server seeds the file; with Hocuspocus the typist creates it.
    typist.doc.getMap('files').set(FILE, new Y.Text());
  }
  await waitUntil(() => clients.every((c) => textOf(c) !== undefined), 30_000, `room ${id} to have its file`);
  const run: RoomRun = {
    id,
    typist,
    typistNode,
    clients,
    receivers: [],
    source: trace ? traceSource(trace) : syntheticSource(createRng(cfg.seed * 7919 + cfg.roomOffset + index)),
    clock: [],
    len: [],
    t0: [],
    timers: [],
  };
  const typistId = typist.doc.clientID;
  for (let c = 1; c < clients.length; c++) {
    const client = clients[c]!;
    const r: Receiver = { client, cross: nodes[c] !== typistNode, idx: 0 };
    run.receivers.push(r);
    const text = textOf(client)!;
    client.doc.on('afterTransaction', (tr: Y.Transaction) => {
      if (tr.local) return;
      const now = performance.now();
      const clock = Y.getState(client.doc.store, typistId);
      const len = text.length;
      let advanced = false;
      while (r.idx < run.clock.length) {
        const c0 = run.clock[r.idx]!;
        if (c0 < clock || (c0 === clock && run.len[r.idx]! >= len)) {
          const t0 = run.t0[r.idx]!;
          if (t0 >= windowStart && t0 <= windowEnd) {
            const ms = now - t0;
            recordMs(hist.all, ms);
            recordMs(r.cross ? hist.cross : hist.same, ms);
          }
          r.idx++;
          advanced = true;
        } else break;
      }
      if (advanced && inWindow) delivered.doc++;
    });
  }
  for (const client of clients) {
    client.awareness.on('update', (_: unknown, origin: unknown) => {
      if (inWindow && origin !== 'local' && origin !== null) delivered.awareness++;
    });
    client.onChat(() => {
      if (inWindow) delivered.chat++;
    });
    client.awareness.setLocalStateField('user', { name: `user ${randInt(rng, 0, 9999)}`, color: '#3366ff' });
  }
  return run;
}

function typeOnce(run: RoomRun): void {
  const text = textOf(run.typist)!;
  const doc = run.typist.doc;
  const edit = run.source.next(text.length);
  const t0 = performance.now();
  let caret = 0;
  doc.transact(() => {
    caret = applyEdit(text, edit);
  });
  if (cfg.caretPerKey) {
    // As the browser client publishes its caret after every key.
    const at = Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(text, caret));
    run.typist.awareness.setLocalStateField('cursor', { file: 'main', selections: [{ anchor: at, head: at }] });
  }
  const clock = Y.getState(doc.store, doc.clientID);
  const len = text.length;
  const n = run.clock.length;
  if (n > 0 && run.clock[n - 1] === clock && run.len[n - 1] === len) return; // a no-op edit sends nothing
  run.clock.push(clock);
  run.len.push(len);
  run.t0.push(t0);
}

/** A timer chain at `hz` with a random phase and ±20% jitter, until stopped. */
function every(run: RoomRun, rng: Rng, hz: number, fn: () => void): void {
  if (hz <= 0) return;
  const period = 1000 / hz;
  const tick = () => {
    try {
      fn();
    } catch (e) {
      noteError(e);
    }
    run.timers.push(setTimeout(tick, period * (0.8 + 0.4 * rng())));
  };
  run.timers.push(setTimeout(tick, period * rng()));
}

function startActivity(run: RoomRun, rng: Rng): void {
  every(run, rng, cfg.rate, () => typeOnce(run));
  const cursor = (client: BenchClient) => {
    let last = -1;
    return () => {
      const len = textOf(client)?.length ?? 0;
      // Never where it was: Duet's client does not send an unchanged state
      // (Hocuspocus's does), so a repeat would be traffic one system skips.
      const avoid = len > 0 && last >= 0 && last <= len;
      let pos = randInt(rng, 0, avoid ? len - 1 : len);
      if (avoid && pos >= last) pos++;
      last = pos;
      // Shaped as the browser's (a relative position's JSON), which Duet's
      // node checks; computing a real one would cost the generator a walk of
      // the text per move.
      const at = { item: { client: client.doc.clientID, clock: pos }, assoc: 0 };
      client.awareness.setLocalStateField('cursor', { file: 'main', selections: [{ anchor: at, head: at }] });
    };
  };
  every(run, rng, cfg.typistAwarenessHz, cursor(run.typist));
  for (const r of run.receivers) every(run, rng, cfg.idleAwarenessHz, cursor(r.client));
  if (cfg.chatEveryS > 0) {
    every(run, rng, 1 / cfg.chatEveryS, () => {
      const who = run.clients[randInt(rng, 0, run.clients.length - 1)]!;
      who.chat(`note ${randInt(rng, 0, 1e6)}`);
    });
  }
}

function stopActivity(run: RoomRun): void {
  for (const t of run.timers) clearTimeout(t);
  run.timers = [];
}

async function serverMismatches(runs: RoomRun[]): Promise<number> {
  const admin = await signToken(cfg.secret, { role: 'admin', name: 'bench' });
  let bad = 0;
  let next = 0;
  const worker = async () => {
    while (next < runs.length) {
      const run = runs[next++]!;
      const res = await fetch(`${cfg.urls[0]}/api/interviews/${run.id}/document`, { headers: { authorization: `Bearer ${admin}` } });
      const body = (await res.json()) as { files?: Record<string, string> };
      if (body.files?.[FILE] !== textOf(run.typist)!.toString()) bad++;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return bad;
}

function message<T>(type: string): Promise<T> {
  return new Promise((resolve) => {
    const fn = (m: { type?: string }) => {
      if (m?.type !== type) return;
      process.off('message', fn);
      resolve(m as T);
    };
    process.on('message', fn);
  });
}

async function main(): Promise<void> {
  const rng = createRng(cfg.seed + cfg.roomOffset);
  const trace = cfg.trace ? loadTrace(cfg.trace) : undefined;
  const ids = await createRooms(rng);
  const joinHist = createHistogram();
  const runs: RoomRun[] = new Array(ids.length);
  let next = 0;
  const roomsAtOnce = Math.max(1, Math.floor(cfg.connectConcurrency / cfg.clientsPerRoom));
  await Promise.all(
    Array.from({ length: roomsAtOnce }, async () => {
      while (next < ids.length) {
        const i = next++;
        runs[i] = await joinRoom(i, ids[i]!, rng, trace, joinHist);
      }
    }),
  );
  const joins = summarize(joinHist);
  send({ type: 'connected', join: joins });
  await message('go');

  for (const run of runs) startActivity(run, rng);
  await new Promise((r) => setTimeout(r, cfg.warmupS * 1000));

  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  const cpu0 = process.cpuUsage();
  const waited0 = runQueueSeconds('self');
  windowStart = performance.now();
  inWindow = true;
  send({ type: 'window-start' });
  await new Promise((r) => setTimeout(r, cfg.durationS * 1000));
  windowEnd = performance.now();
  inWindow = false;
  const cpu1 = process.cpuUsage(cpu0);
  const waited1 = runQueueSeconds('self');
  eld.disable();
  send({ type: 'window-end' });
  const windowS = (windowEnd - windowStart) / 1000;
  const cpu = (cpu1.user + cpu1.system) / 1e6 / windowS;
  const waited = waited0 !== undefined && waited1 !== undefined ? (waited1 - waited0) / windowS : undefined;
  const eldP99 = eld.percentile(99) / 1e6;
  const eldMax = eld.max / 1e6;

  for (const run of runs) stopActivity(run);
  // The quiet period: everything sent must arrive and be acknowledged. A
  // saturated step ends its window with seconds of backlog: that is latency,
  // measured above, not loss, so the wait goes on while the backlog drains
  // and counts as lost only what has not arrived once nothing has for 20 s.
  const settled = () =>
    runs.every((run) => run.receivers.every((r) => r.idx === run.clock.length) && run.typist.unacknowledged() === 0);
  const progress = () => runs.reduce((n, run) => n + run.receivers.reduce((m, r) => m + r.idx, 0) - run.typist.unacknowledged(), 0);
  const quietStart = performance.now();
  await waitWhileProgressing(settled, progress, 20_000, 180_000, 'the last updates').catch(noteError);
  const quietPeriodS = (performance.now() - quietStart) / 1000;

  let lost = 0;
  let diverged = 0;
  let unacknowledged = 0;
  let edits = 0;
  for (const run of runs) {
    const expected = textOf(run.typist)!.toString();
    edits += run.t0.filter((t) => t >= windowStart && t <= windowEnd).length;
    unacknowledged += run.typist.unacknowledged();
    for (const r of run.receivers) {
      lost += run.clock.length - r.idx;
      if (textOf(r.client)?.toString() !== expected) diverged++;
    }
  }
  const serverMismatch = cfg.system === 'duet' ? await serverMismatches(runs).catch((e) => (noteError(e), -1)) : null;

  const result: WorkloadResult = {
    type: 'result',
    system: cfg.system,
    rooms: cfg.rooms,
    clients: cfg.rooms * cfg.clientsPerRoom,
    windowS,
    edits,
    hist: { cross: encode(hist.cross), same: encode(hist.same), all: encode(hist.all) },
    deliveries: {
      ...delivered,
      perSecond: Math.round((delivered.doc + delivered.awareness + delivered.chat) / windowS),
    },
    lost,
    quietPeriodS,
    diverged,
    unacknowledged,
    serverMismatch,
    join: { count: joins.count, p50: joins.p50, p95: joins.p95, max: joins.max },
    // Saturated: its own core is nearly full, or it is busy enough that its
    // timers run late; its timings would then be its own, not the servers'.
    // (Not a generator starved by a full machine: `waited` reports that, and the step keeps it.)
    generator: { cpu, waited, eldP99, eldMax, saturated: cpu > 0.85 || (cpu > 0.5 && eldP99 > 20) },
    errors,
  };
  send(result);
  for (const run of runs) for (const c of run.clients) c.close();
  setTimeout(() => process.exit(0), 500).unref();
}

// An orderly exit on SIGTERM (the orchestrator's stop), so a --cpu-prof profile gets written.
process.on('SIGTERM', () => process.exit(0));

main().catch((err) => {
  send({ type: 'failed', error: String(err instanceof Error ? err.stack : err) });
  setTimeout(() => process.exit(1), 200);
});
