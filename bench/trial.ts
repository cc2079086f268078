/**
 * One trial: start a system's two nodes, run the load generator (its own
 * process, pinned to one core) against them, sample the nodes' CPU, RSS,
 * event-loop delay and memory around the measurement window, stop everything.
 */
import { appendFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ask, cpuDelta, cpuSeconds, cpuSecondsOfNamed, cpuSecondsOfPids, machineBusySeconds, pinToCpu, rssBytes, runQueueSeconds, spawnChild, waitFor, type Child } from './processes.js';
import { PROJECT_ROOT, probe, startCluster, type ClusterOptions, type Probe } from './systems/cluster.js';
import { encode, merge } from './histogram.js';
import type { WorkloadConfig, WorkloadResult } from './workload.js';

export interface NodeSample {
  /** CPU seconds per second during the window (all threads). */
  cpu: number;
  /** Seconds per second its main thread waited for a core during the window (undefined where the kernel does not say). */
  waited?: number;
  /** RSS at the end of the window, MiB. */
  rssMiB: number;
  eldP99: number;
  eldMax: number;
  /** The collector during the window: its longest entry, longest full (mark-compact) one, their sum (ms), and how many full ones. */
  gcMaxMs: number;
  gcMajorMaxMs: number;
  gcTotalMs: number;
  gcMajorCount: number;
  /** The old generation's growth over the window (Probe.oldGrowthMiB). */
  oldGrowthMiB: number;
  /** After a full GC, MiB: idle node, rooms joined (before typing), after the window. */
  rssBaseMiB: number;
  rssJoinedMiB: number;
  heapBaseMiB: number;
  heapJoinedMiB: number;
  heapActiveMiB: number;
  /** The window on the node's monotonic clock (µs), to cut its CPU profile. */
  windowUs: [number, number];
}

/**
 * Where the machine's CPU went during the window, CPU seconds per second (the
 * machine has 2): the nodes, the generators, PostgreSQL's processes, Redis,
 * and the whole machine (the rest is the orchestrator, the kernel's softirq
 * work not charged to a process, and anything else running).
 */
export interface MachineSample {
  busy: number;
  nodes: number;
  generators: number;
  postgres: number;
  redis: number;
}

export interface TrialResult {
  workload: WorkloadResult;
  nodes: NodeSample[];
  /** Absent in results written before the tenth session. */
  machine?: MachineSample;
  /** Core the (first) generator was pinned to, or null. */
  pinnedCpu: number | null;
  generators: number;
}

export type TrialSpec = Omit<WorkloadConfig, 'system' | 'urls' | 'secret' | 'roomOffset'> & {
  cluster: ClusterOptions;
  generatorCpu: number;
  /** Generator processes splitting the rooms (1 unless one core cannot play them all). */
  generators: number;
};

/** Several generators' results as one: histograms merged, counts added, the busiest generator's load. */
function mergeWorkloads(results: WorkloadResult[]): WorkloadResult {
  if (results.length === 1) return results[0]!;
  const sum = (f: (r: WorkloadResult) => number) => results.reduce((a, r) => a + f(r), 0);
  const max = (f: (r: WorkloadResult) => number) => Math.max(...results.map(f));
  const hist = (k: 'cross' | 'same' | 'all') => encode(merge(results.map((r) => r.hist[k])));
  const first = results[0]!;
  return {
    ...first,
    rooms: sum((r) => r.rooms),
    clients: sum((r) => r.clients),
    windowS: sum((r) => r.windowS) / results.length,
    edits: sum((r) => r.edits),
    hist: { cross: hist('cross'), same: hist('same'), all: hist('all') },
    deliveries: {
      doc: sum((r) => r.deliveries.doc),
      awareness: sum((r) => r.deliveries.awareness),
      chat: sum((r) => r.deliveries.chat),
      perSecond: sum((r) => r.deliveries.perSecond),
    },
    lost: sum((r) => r.lost),
    quietPeriodS: max((r) => r.quietPeriodS ?? 0),
    diverged: sum((r) => r.diverged),
    unacknowledged: sum((r) => r.unacknowledged),
    serverMismatch: first.serverMismatch === null ? null : sum((r) => r.serverMismatch ?? 0),
    join: { count: sum((r) => r.join.count), p50: max((r) => r.join.p50), p95: max((r) => r.join.p95), max: max((r) => r.join.max) },
    generator: {
      cpu: max((r) => r.generator.cpu),
      waited: results.every((r) => r.generator.waited !== undefined) ? max((r) => r.generator.waited!) : undefined,
      eldP99: max((r) => r.generator.eldP99),
      eldMax: max((r) => r.generator.eldMax),
      saturated: results.some((r) => r.generator.saturated),
    },
    errors: results.flatMap((r) => r.errors).slice(0, 20),
  };
}

const MiB = (b: number) => Math.round((b / 1048576) * 10) / 10;
const heapOf = (p: Probe) => p.memory.heapUsed + p.memory.external;

export async function runTrial(spec: TrialSpec): Promise<TrialResult> {
  const cluster = await startCluster(spec.cluster);
  const gens: Child[] = [];
  try {
    const base = await Promise.all(cluster.nodes.map((n) => probe(n, { gc: true })));
    const count = Math.max(1, spec.generators);
    // BENCH_GENERATOR_PROFILE=DIR: a CPU profile of the generator itself.
    const genProf = process.env.BENCH_GENERATOR_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_GENERATOR_PROFILE] : [];
    let offset = 0;
    const sampleMachine = () => ({
      busy: machineBusySeconds(),
      generators: cpuSecondsOfPids(gens.map((g) => g.pid)),
      postgres: cpuSecondsOfNamed((c) => c === 'postgres'),
      redis: cpuSecondsOfNamed((c) => c === 'redis-server'),
    });
    const pinned: number[] = [];
    for (let g = 0; g < count; g++) {
      const rooms = Math.floor(spec.rooms / count) + (g < spec.rooms % count ? 1 : 0);
      const config: WorkloadConfig = {
        system: spec.cluster.system,
        urls: cluster.urls,
        secret: cluster.secret,
        rooms,
        roomOffset: offset,
        clientsPerRoom: spec.clientsPerRoom,
        rate: spec.rate,
        warmupS: spec.warmupS,
        durationS: spec.durationS,
        seed: spec.seed,
        trace: spec.trace,
        typistAwarenessHz: spec.typistAwarenessHz,
        idleAwarenessHz: spec.idleAwarenessHz,
        caretPerKey: spec.caretPerKey,
        awarenessResendMs: spec.awarenessResendMs,
        chatEveryS: spec.chatEveryS,
        connectConcurrency: spec.connectConcurrency,
      };
      offset += rooms;
      const gen = spawnChild(process.execPath, [...genProf, '--import', 'tsx', 'bench/loadgen.ts'], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, BENCH_CONFIG: JSON.stringify(config) },
        label: `load generator ${g}`,
      });
      gens.push(gen);
      // One generator: its own core. Two: one on each (there are no more).
      const cpu = (spec.generatorCpu + g) % 2;
      if (pinToCpu(gen.pid, cpu)) pinned.push(cpu);
    }
    const pinnedCpu = pinned.length ? pinned[0]! : null;
    // A generator fails by saying so, or by dying; one that finished and exited (0) has not failed.
    const failed = Promise.race(
      gens.map(
        (gen) =>
          new Promise<never>((_, reject) => {
            gen.proc.on('message', (m: { type?: string; error?: string }) => {
              if (m?.type === 'failed') reject(new Error(`load generator failed: ${m.error}`));
            });
            void gen.exited.then((code) => {
              if (code !== 0) reject(new Error(`load generator exited with ${code}`));
            });
          }),
      ),
    );
    failed.catch(() => {});
    const race = <T>(p: Promise<T>) => Promise.race([p, failed]);
    const all = <T>(type: string, ms: number) => Promise.all(gens.map((gen) => waitFor<T>(gen, type, ms)));

    await race(all('connected', 60_000 + spec.rooms * spec.clientsPerRoom * 60));
    const joined = await Promise.all(cluster.nodes.map((n) => probe(n, { gc: true })));
    if (process.env.BENCH_HEAP_SNAPSHOT) await ask(cluster.nodes[0]!, { type: 'probe', heapSnapshot: resolve(process.env.BENCH_HEAP_SNAPSHOT) }, 120_000);
    // The generators' quiet period may last 180 s while a saturated step's backlog drains (loadgen.ts).
    const resultP = all<WorkloadResult>('result', (spec.warmupS + spec.durationS + 300) * 1000);
    resultP.catch(() => {});
    const startP = waitFor(gens[0]!, 'window-start', (spec.warmupS + 30) * 1000);
    const endP = waitFor(gens[0]!, 'window-end', (spec.warmupS + spec.durationS + 60) * 1000);
    // A trial that fails before awaiting them stops the generators, which rejects these:
    // unhandled, that rejection ended the whole run (a node that missed a probe at 500 rooms).
    startP.catch(() => {});
    endP.catch(() => {});
    for (const gen of gens) gen.proc.send({ type: 'go' });

    await race(startP);
    const t0 = performance.now();
    const cpu0 = cluster.nodes.map((n) => cpuSeconds(n.pid));
    const waited0 = cluster.nodes.map((n) => runQueueSeconds(n.pid));
    const machine0 = sampleMachine();
    const atStart = await Promise.all(cluster.nodes.map((n) => probe(n, { reset: true })));
    await race(endP);
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = cluster.nodes.map((n) => cpuSeconds(n.pid));
    const waited1 = cluster.nodes.map((n) => runQueueSeconds(n.pid));
    const machine1 = sampleMachine();
    const rss = cluster.nodes.map((n) => rssBytes(n.pid));
    const eld = await Promise.all(cluster.nodes.map((n) => probe(n)));
    // BENCH_METRICS_OUT=FILE: each Duet node's Prometheus metrics after the window (commit latency etc.).
    if (process.env.BENCH_METRICS_OUT && spec.cluster.system === 'duet') {
      const texts = await Promise.all(cluster.httpUrls.map(async (u) => (await fetch(`${u}/metrics`)).text()));
      appendFileSync(process.env.BENCH_METRICS_OUT, texts.map((t, i) => `# node ${i}, ${spec.rooms} rooms\n${t}`).join('\n'));
    }
    const workload = mergeWorkloads(await race(resultP));
    const active = await Promise.all(cluster.nodes.map((n) => probe(n, { gc: true })));

    const nodes: NodeSample[] = cluster.nodes.map((_, i) => ({
      cpu: Math.round(((cpu1[i]! - cpu0[i]!) / seconds) * 1000) / 1000,
      waited: waited0[i] !== undefined && waited1[i] !== undefined ? Math.round(((waited1[i]! - waited0[i]!) / seconds) * 1000) / 1000 : undefined,
      rssMiB: MiB(rss[i]!),
      eldP99: eld[i]!.eld.p99,
      eldMax: eld[i]!.eld.max,
      gcMaxMs: eld[i]!.gc.maxMs,
      gcMajorMaxMs: eld[i]!.gc.majorMaxMs,
      gcTotalMs: eld[i]!.gc.totalMs,
      gcMajorCount: eld[i]!.gc.majorCount,
      oldGrowthMiB: eld[i]!.oldGrowthMiB,
      rssBaseMiB: MiB(base[i]!.memory.rss),
      rssJoinedMiB: MiB(joined[i]!.memory.rss),
      heapBaseMiB: MiB(heapOf(base[i]!)),
      heapJoinedMiB: MiB(heapOf(joined[i]!)),
      heapActiveMiB: MiB(heapOf(active[i]!)),
      windowUs: [atStart[i]!.monoUs, eld[i]!.monoUs],
    }));
    const per = (x: number) => Math.round((x / seconds) * 1000) / 1000;
    const machine: MachineSample = {
      busy: per(machine1.busy - machine0.busy),
      nodes: Math.round(nodes.reduce((a, n) => a + n.cpu, 0) * 1000) / 1000,
      generators: per(cpuDelta(machine0.generators, machine1.generators)),
      postgres: per(cpuDelta(machine0.postgres, machine1.postgres)),
      redis: per(cpuDelta(machine0.redis, machine1.redis)),
    };
    return { workload, nodes, machine, pinnedCpu, generators: count };
  } finally {
    await Promise.all(gens.map((g) => g.stop(2000)));
    await cluster.stop();
  }
}

