/**
 * npm run bench [-- options]      a quick run (a few minutes)
 * npm run bench -- --full         the sweep, cold joins and memory (npm run bench:full)
 *
 * Options: --rooms 100,500  --trials 3  --duration 10  --warmup 3  --clients 4
 *   --rate 5  --systems duet,hocuspocus  --trace FILE  --store postgres|sqlite
 *   --adapter sharded|classic  --hp-persist postgres|none  --env KEY=VALUE (Duet
 *   nodes, repeatable)  --hp-node-flags "FLAGS" (Hocuspocus's nodes' node flags;
 *   by default the same as Duet's npm start gives its nodes; "" for none)  --no-sweep  --no-join  --no-memory  --profile ROOMS  --only-profile
 *   --name NAME (results file name)  --seed N  --duet-root DIR (another checkout
 *   of Duet, for before/after comparisons)  --join-updates N --join-docs N
 *   --join-trace FLAT_TRACE [--join-authors CONCURRENT_TRACE] (cold joins of a
 *   recorded session too, e.g. ../shared/data/editing-traces/clownschool_flat.json.gz
 *   with clownschool.json.gz for who typed what)
 *   --join-rounds N  --join-idle-ms N (the node sits idle this long before each
 *   cold join, as one between interviews)  --memory-rooms N  --deadline HH:MM (UTC; no new step after it)
 *   --generators N (processes splitting the rooms; default 1, pinned to one core)
 *
 * Each step runs the systems alternately (ABAB... with the order flipped each
 * trial), every trial on fresh nodes. Results: bench/results/NAME.json (summaries,
 * no samples), NAME.md and NAME.svg.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isQuickRun, writeQuickHistory } from './history.js';
import { runJoinScenario, type JoinOptions, type JoinResult } from './join.js';
import { machine, versions } from './machine.js';
import { summarizeProfile } from './profile.js';
import { markdown, svgChart, type BenchResults, type MemoryResult } from './report.js';
import { targets } from './targets.js';
import { loadTrace, loadTraceAgents } from './typing.js';
import { capacity, median as medianOf, summarizeStep, type StepSummary } from './steps.js';
import { PROJECT_ROOT, startCommand, type ClusterOptions } from './systems/cluster.js';
import { runTrial, type TrialResult, type TrialSpec } from './trial.js';
import type { SystemName } from './workload.js';

const { values: a } = parseArgs({
  options: {
    full: { type: 'boolean', default: false },
    rooms: { type: 'string' },
    trials: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    clients: { type: 'string', default: '4' },
    rate: { type: 'string', default: '5' },
    systems: { type: 'string', default: 'duet,hocuspocus' },
    trace: { type: 'string' },
    store: { type: 'string', default: 'postgres' },
    adapter: { type: 'string', default: 'sharded' },
    'hp-persist': { type: 'string', default: 'postgres' },
    'hp-node-flags': { type: 'string' },
    env: { type: 'string', multiple: true, default: [] },
    'no-join': { type: 'boolean', default: false },
    'no-memory': { type: 'boolean', default: false },
    'no-sweep': { type: 'boolean', default: false },
    profile: { type: 'string' },
    'only-profile': { type: 'boolean', default: false },
    name: { type: 'string' },
    seed: { type: 'string', default: '42' },
    'duet-root': { type: 'string' },
    'join-updates': { type: 'string', default: '20000' },
    'join-docs': { type: 'string' },
    'join-trace': { type: 'string' },
    'join-authors': { type: 'string' },
    'join-rounds': { type: 'string' },
    'join-idle-ms': { type: 'string', default: '0' },
    'memory-rooms': { type: 'string' },
    deadline: { type: 'string' },
    generators: { type: 'string', default: 'auto' },
    'caret-per-key': { type: 'boolean', default: false },
    'awareness-resend-ms': { type: 'string' },
  },
});

function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

const full = a.full;
const mode = full ? 'full' : 'quick';
const list = (s: string) => s.split(',').map((x) => Number(x.trim())).filter((x) => Number.isInteger(x) && x > 0);
const roomSteps = a.rooms ? list(a.rooms) : full ? [50, 100, 200, 300, 500, 700, 1000] : [100, 500];
const trials = Number(a.trials ?? 3);
const durationS = Number(a.duration ?? (full ? 20 : 10));
const warmupS = Number(a.warmup ?? 3);
const systems = a.systems.split(',') as SystemName[];
if (!systems.every((s) => s === 'duet' || s === 'hocuspocus')) fail('--systems takes duet,hocuspocus');
if (a.store !== 'postgres' && a.store !== 'sqlite') fail('--store takes postgres or sqlite');
if (a.adapter !== 'sharded' && a.adapter !== 'classic') fail('--adapter takes sharded or classic');
if (a['hp-persist'] !== 'postgres' && a['hp-persist'] !== 'none') fail('--hp-persist takes postgres or none');
// Like for like by default: Hocuspocus's nodes get the node flags this checkout's npm start gives
// Duet's (also when --duet-root runs an older Duet, so both sides of a comparison match).
const duetStart = startCommand(a['duet-root'] ?? PROJECT_ROOT);
const hpNodeFlags = a['hp-node-flags'] === undefined ? startCommand(PROJECT_ROOT).flags : a['hp-node-flags'].split(/\s+/).filter(Boolean);
if (!hpNodeFlags.every((f) => /^--[a-z][a-z0-9-]*(=[\w.-]+)?$/.test(f))) fail('--hp-node-flags takes node flags, e.g. "--single-threaded-gc"');
if (!/^\d+$/.test(a['join-idle-ms'])) fail('--join-idle-ms takes milliseconds, e.g. 12000');
if (a.store === 'sqlite') fail('two nodes share their event log: --store sqlite is for one node only, not this benchmark');
const env = Object.fromEntries(
  a.env.map((kv) => {
    const i = kv.indexOf('=');
    if (i <= 0) fail(`--env ${kv}: expected KEY=VALUE`);
    return [kv.slice(0, i), kv.slice(i + 1)];
  }),
);
const name = a.name ?? mode;
/** --deadline HH:MM (UTC): start no new step after it; what ran is written. */
const deadline = a.deadline ? Date.parse(`${new Date().toISOString().slice(0, 10)}T${a.deadline}:00Z`) : Infinity;
if (Number.isNaN(deadline)) fail('--deadline takes HH:MM (UTC)');
const pastDeadline = () => Date.now() > deadline;
const seed = Number(a.seed);
const awarenessResendMs = a['awareness-resend-ms'] === undefined ? undefined : Number(a['awareness-resend-ms']);
if (awarenessResendMs !== undefined && !(Number.isInteger(awarenessResendMs) && awarenessResendMs >= 0)) fail('--awareness-resend-ms takes a whole number of ms');

const clusterOf = (system: SystemName, extra: Partial<ClusterOptions> = {}): ClusterOptions => ({
  system,
  nodes: 2,
  store: 'postgres',
  adapter: a.adapter as 'sharded' | 'classic',
  hpPersist: a['hp-persist'] as 'postgres' | 'none',
  ...(system === 'duet' ? { env, duetRoot: a['duet-root'] } : { hpNodeFlags }),
  ...extra,
});

const workload = {
  clientsPerRoom: Number(a.clients),
  rate: Number(a.rate),
  warmupS,
  durationS,
  trace: a.trace,
  typistAwarenessHz: 2,
  idleAwarenessHz: 0.2,
  caretPerKey: a['caret-per-key'],
  awarenessResendMs,
  chatEveryS: 30,
  connectConcurrency: 64,
  generatorCpu: 1,
  generators: a.generators === 'auto' ? 1 : Number(a.generators),
};
/**
 * --generators auto: one generator (pinned to one core) until a trial finds it
 * saturated; that trial is run again with two (one per core), and so is every
 * later trial. The steps say how many they used.
 */
const autoGenerators = a.generators === 'auto';
if (!autoGenerators && !(workload.generators >= 1)) fail('--generators takes a positive integer or auto');

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function describe(r: TrialResult): string {
  const w = r.workload;
  const s = summarizeStep(w.system, w.rooms, [r]);
  return `cross p50 ${s.cross.p50} p99 ${s.cross.p99} max ${s.cross.max} ms, ${w.deliveries.perSecond} deliveries/s (${Math.round(w.deliveries.doc / w.windowS)} edits), lost ${w.lost} (quiet period ${(w.quietPeriodS ?? 0).toFixed(1)} s), diverged ${w.diverged}, unacked ${w.unacknowledged}, nodes cpu ${r.nodes.map((n) => n.cpu).join('+')} waited ${r.nodes.map((n) => n.waited ?? '?').join('/')}, loop p99 ${r.nodes.map((n) => n.eldP99).join('/')} max ${r.nodes.map((n) => n.eldMax).join('/')} ms, gc max ${r.nodes.map((n) => n.gcMaxMs).join('/')} (full ${r.nodes.map((n) => n.gcMajorMaxMs).join('/')}, ${r.nodes.map((n) => n.gcMajorCount).join('/')} of them) sum ${r.nodes.map((n) => n.gcTotalMs).join('/')} ms, old generation ${r.nodes.map((n) => `${n.oldGrowthMiB >= 0 ? '+' : ''}${n.oldGrowthMiB}`).join('/')} MiB, generator cpu ${w.generator.cpu.toFixed(2)} waited ${w.generator.waited?.toFixed(2) ?? '?'} loop p99 ${w.generator.eldP99.toFixed(1)}${w.generator.saturated ? ' SATURATED' : ''}${w.errors.length ? `, errors: ${w.errors.join('; ')}` : ''}`;
}

async function trial(system: SystemName, rooms: number, t: number): Promise<TrialResult | undefined> {
  const spec: TrialSpec = { ...workload, rooms, seed: seed + t, cluster: clusterOf(system) };
  try {
    let r = await runTrial(spec);
    log(`${system} ${rooms} rooms, trial ${t + 1}: ${describe(r)}`);
    if (autoGenerators && r.workload.generator.saturated && workload.generators === 1) {
      workload.generators = 2;
      log('the generator is saturated: this trial again, and every later one, with two generators');
      r = await runTrial({ ...spec, generators: 2 });
      log(`${system} ${rooms} rooms, trial ${t + 1} (2 generators): ${describe(r)}`);
    }
    return r;
  } catch (err) {
    log(`${system} ${rooms} rooms, trial ${t + 1} FAILED: ${String(err instanceof Error ? err.message : err)}`);
    return undefined;
  }
}

async function sweep(): Promise<StepSummary[]> {
  const steps: StepSummary[] = [];
  const failedInARow: Record<string, number> = { duet: 0, hocuspocus: 0 };
  for (const rooms of roomSteps) {
    const active = systems.filter((s) => failedInARow[s]! < 2);
    if (active.length === 0) break;
    if (pastDeadline()) {
      log(`past the deadline: steps from ${rooms} rooms not run`);
      break;
    }
    const results: Record<string, TrialResult[]> = { duet: [], hocuspocus: [] };
    const broken: Record<string, number> = { duet: 0, hocuspocus: 0 };
    for (let t = 0; t < trials; t++) {
      // ABAB, flipped each trial, so neither system always runs on a warmer machine.
      const order = t % 2 === 0 ? active : [...active].reverse();
      for (const system of order) {
        const r = await trial(system, rooms, t);
        if (r) results[system]!.push(r);
        else broken[system]!++;
      }
    }
    for (const system of active) {
      const step = summarizeStep(system, rooms, results[system]!);
      if (broken[system]) {
        step.pass = false;
        step.errors.unshift(`${broken[system]} trial(s) failed to run`);
      }
      steps.push(step);
      failedInARow[system] = step.pass ? 0 : failedInARow[system]! + 1;
      log(`STEP ${system} ${rooms}: cross p50 ${step.cross.p50} p99 ${step.cross.p99}, all p99 ${step.all.p99} ms, lost ${step.lost}, ${step.pass ? 'pass' : 'FAIL'}${step.discarded ? `, ${step.discarded} discarded (generator saturated)` : ''}`);
    }
  }
  return steps;
}

/** Idle sockets: R rooms x 2 clients vs R rooms x 8; the difference per extra socket. */
async function memoryTrial(system: SystemName, rooms: number): Promise<{ heapPerSocketKiB: number; rssPerSocketKiB: number } | undefined> {
  const idle = { ...workload, rate: 0, typistAwarenessHz: 0, idleAwarenessHz: 0, chatEveryS: 0, warmupS: 0, durationS: 1 };
  try {
    const small = await runTrial({ ...idle, clientsPerRoom: 2, rooms, seed, cluster: clusterOf(system) });
    const big = await runTrial({ ...idle, clientsPerRoom: 8, rooms, seed, cluster: clusterOf(system) });
    const extraPerNode = (rooms * (8 - 2)) / 2;
    const delta = (f: (n: TrialResult['nodes'][number]) => number) => {
      const d = (r: TrialResult) => r.nodes.reduce((acc, n) => acc + f(n), 0) / r.nodes.length;
      return Math.round(((d(big) - d(small)) * 1024 * 10) / extraPerNode) / 10;
    };
    const m = {
      heapPerSocketKiB: delta((n) => n.heapJoinedMiB - n.heapBaseMiB),
      rssPerSocketKiB: delta((n) => n.rssJoinedMiB - n.rssBaseMiB),
    };
    log(`memory ${system} (${rooms} rooms): ${m.heapPerSocketKiB} KiB heap, ${m.rssPerSocketKiB} KiB RSS per idle socket`);
    return m;
  } catch (err) {
    log(`memory ${system} FAILED: ${String(err)}`);
    return undefined;
  }
}

/** Each system `trials` times, alternating A B, B A...; the median of each figure. */
async function memory(rooms: number): Promise<MemoryResult[]> {
  const runs = new Map<SystemName, Array<{ heapPerSocketKiB: number; rssPerSocketKiB: number }>>(systems.map((s) => [s, []]));
  for (let t = 0; t < trials; t++) {
    for (const system of t % 2 === 0 ? systems : [...systems].reverse()) {
      const m = await memoryTrial(system, rooms);
      if (m) runs.get(system)!.push(m);
    }
  }
  const median = (xs: number[]) => Math.round(medianOf(xs) * 10) / 10;
  return [...runs]
    .filter(([, ms]) => ms.length > 0)
    .map(([system, ms]) => ({
      system,
      rooms,
      heapPerSocketKiB: median(ms.map((m) => m.heapPerSocketKiB)),
      rssPerSocketKiB: median(ms.map((m) => m.rssPerSocketKiB)),
      trials: ms,
    }));
}

async function profile(rooms: number): Promise<BenchResults['profile']> {
  const out: NonNullable<BenchResults['profile']> = { rooms };
  for (const system of systems) {
    const dir = mkdtempSync(join(tmpdir(), 'duet-prof-'));
    try {
      const r = await runTrial({ ...workload, rooms, seed, cluster: clusterOf(system, { cpuProfDir: dir }) });
      log(`profiled ${system} ${rooms} rooms: ${describe(r)}`);
      // Node 0's main thread: of its profiles, the one with the most busy time.
      const node0 = join(dir, 'node0');
      const profiles = readdirSync(node0)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => summarizeProfile(join(node0, f), r.nodes[0]!.windowUs));
      profiles.sort((x, y) => y.busyMs - x.busyMs);
      if (profiles[0]) out[system] = profiles[0];
      if (process.env.BENCH_KEEP_PROFILES) log(`profiles kept in ${dir}`);
    } catch (err) {
      log(`profile ${system} FAILED: ${String(err)}`);
    } finally {
      if (!process.env.BENCH_KEEP_PROFILES) rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  log(`${mode} run "${name}": rooms ${roomSteps.join(', ')}, ${trials} trials, ${durationS} s windows, systems ${systems.join(', ')}`);
  const results: BenchResults = {
    mode,
    startedAt,
    finishedAt: '',
    machine: machine(),
    versions: await versions(a['duet-root']),
    settings: {
      clientsPerRoom: workload.clientsPerRoom,
      updatesPerSecond: workload.rate,
      typistAwarenessHz: workload.typistAwarenessHz,
      idleAwarenessHz: workload.idleAwarenessHz,
      ...(workload.caretPerKey ? { caretPerKey: true } : {}),
      ...(awarenessResendMs !== undefined ? { duetAwarenessResendMs: awarenessResendMs } : {}),
      chatEveryS: workload.chatEveryS,
      trials,
      warmupS,
      durationS,
      workload: a.trace ? `trace ${a.trace.split('/').pop()}` : 'synthetic (seeded)',
      duetStore: 'postgres (fsync on, every update committed before its ack)',
      duetAdapter: a.adapter,
      hocuspocusPersistence: a['hp-persist'] === 'postgres' ? 'extension-database to postgres (whole state, debounced 2 s / max 10 s)' : 'none (memory only)',
      generator: autoGenerators
        ? `1 process pinned to cpu ${workload.generatorCpu}, or 2 (one per cpu) from the first trial that saturated one; nodes unpinned`
        : workload.generators === 1
          ? `1 process pinned to cpu ${workload.generatorCpu}; nodes unpinned`
          : `${workload.generators} processes, one pinned to each cpu; nodes unpinned`,
      duetNodeFlags: duetStart.flags.join(' ') || 'none',
      duetNodeEntry: duetStart.entry,
      hocuspocusNodeFlags: hpNodeFlags.join(' ') || 'none',
      ...(Object.keys(env).length ? { duetEnv: env } : {}),
      ...(a['duet-root'] ? { duetRoot: a['duet-root'] } : {}),
    },
    steps: [],
    capacity: { duet: 0, hocuspocus: 0 },
    join: [],
    memory: [],
    targets: [],
  };
  if (!a['only-profile']) {
    if (!a['no-sweep']) results.steps = await sweep();
    results.capacity = { duet: capacity(results.steps, 'duet'), hocuspocus: capacity(results.steps, 'hocuspocus') };
    if (!a['no-join']) {
      // The synthetic stress history always; a recorded session too when given.
      const histories: Array<JoinOptions['trace']> = [undefined];
      if (a['join-trace']) {
        const trace = loadTrace(a['join-trace']);
        histories.push({ trace, agents: a['join-authors'] ? loadTraceAgents(a['join-authors'], a['join-trace']) : undefined });
      } else if (a['join-authors']) fail('--join-authors needs --join-trace');
      for (const history of histories) {
        for (const system of systems) {
          try {
            const j: JoinResult = await runJoinScenario({
              cluster: clusterOf(system),
              docs: Number(a['join-docs'] ?? (full ? 5 : 2)),
              updates: Number(a['join-updates']),
              trace: history,
              rounds: Number(a['join-rounds'] ?? (full ? 4 : 5)),
              seed,
              idleMs: Number(a['join-idle-ms']),
            });
            log(`join ${system} (${j.history}): cold p50 ${j.cold.p50} p95 ${j.cold.p95} max ${j.cold.max} ms over ${j.cold.count} joins, open p50 ${j.open?.p50} p95 ${j.open?.p95}, reconnect p50 ${j.reconnect?.p50} p95 ${j.reconnect?.p95} (${j.chars} chars), failures ${j.failures}`);
            results.join.push(j);
          } catch (err) {
            log(`join ${system} FAILED: ${String(err)}`);
          }
        }
      }
    }
    if (!a['no-memory']) results.memory.push(...(await memory(Number(a['memory-rooms'] ?? 500))));
  }
  if (a.profile) results.profile = await profile(Number(a.profile));
  results.targets = targets(results);
  results.finishedAt = new Date().toISOString();

  const dir = join(PROJECT_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(results, null, 1) + '\n');
  writeFileSync(join(dir, `${name}.md`), markdown(results));
  if (results.steps.length) writeFileSync(join(dir, `${name}.svg`), svgChart(results));
  log(`wrote bench/results/${name}.json, .md${results.steps.length ? ', .svg' : ''}`);
  if (isQuickRun(name)) log(`wrote bench/results/quick-history.md (${writeQuickHistory(dir)} quick runs)`);
  process.stdout.write(markdown(results));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
