/**
 * One trial: start a system's two nodes, run the load generator (its own
 * process, pinned to one core) against them, sample the nodes' CPU, RSS,
 * event-loop delay and memory around the measurement window, stop everything.
 */
import { ask, cpuSeconds, pinToCpu, rssBytes, spawnChild, waitFor, type Child } from './processes.js';
import { PROJECT_ROOT, probe, startCluster, type ClusterOptions, type Probe } from './systems/cluster.js';
import type { WorkloadConfig, WorkloadResult } from './workload.js';

export interface NodeSample {
  /** CPU seconds per second during the window (all threads). */
  cpu: number;
  /** RSS at the end of the window, MiB. */
  rssMiB: number;
  eldP99: number;
  eldMax: number;
  /** After a full GC, MiB: idle node, rooms joined (before typing), after the window. */
  rssBaseMiB: number;
  rssJoinedMiB: number;
  heapBaseMiB: number;
  heapJoinedMiB: number;
  heapActiveMiB: number;
  /** The window on the node's monotonic clock (µs), to cut its CPU profile. */
  windowUs: [number, number];
}

export interface TrialResult {
  workload: WorkloadResult;
  nodes: NodeSample[];
  /** Core the generator was pinned to, or null. */
  pinnedCpu: number | null;
}

export type TrialSpec = Omit<WorkloadConfig, 'system' | 'urls' | 'secret'> & { cluster: ClusterOptions; generatorCpu: number };

const MiB = (b: number) => Math.round((b / 1048576) * 10) / 10;
const heapOf = (p: Probe) => p.memory.heapUsed + p.memory.external;

export async function runTrial(spec: TrialSpec): Promise<TrialResult> {
  const cluster = await startCluster(spec.cluster);
  let gen: Child | undefined;
  try {
    const base = await Promise.all(cluster.nodes.map((n) => probe(n, { gc: true })));
    const config: WorkloadConfig = {
      system: spec.cluster.system,
      urls: cluster.urls,
      secret: cluster.secret,
      rooms: spec.rooms,
      clientsPerRoom: spec.clientsPerRoom,
      rate: spec.rate,
      warmupS: spec.warmupS,
      durationS: spec.durationS,
      seed: spec.seed,
      trace: spec.trace,
      typistAwarenessHz: spec.typistAwarenessHz,
      idleAwarenessHz: spec.idleAwarenessHz,
      chatEveryS: spec.chatEveryS,
      connectConcurrency: spec.connectConcurrency,
    };
    // BENCH_GENERATOR_PROFILE=DIR: a CPU profile of the generator itself.
    const genProf = process.env.BENCH_GENERATOR_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_GENERATOR_PROFILE] : [];
    gen = spawnChild(process.execPath, [...genProf, '--import', 'tsx', 'bench/loadgen.ts'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, BENCH_CONFIG: JSON.stringify(config) },
      label: 'load generator',
    });
    const pinnedCpu = pinToCpu(gen.pid, spec.generatorCpu) ? spec.generatorCpu : null;
    const failed = waitFor<{ error: string }>(gen, 'failed', 3_600_000).then((m) => {
      throw new Error(`load generator failed: ${m.error}`);
    });
    failed.catch(() => {});
    const race = <T>(p: Promise<T>) => Promise.race([p, failed]);

    await race(waitFor(gen, 'connected', 60_000 + spec.rooms * spec.clientsPerRoom * 60));
    const joined = await Promise.all(cluster.nodes.map((n) => probe(n, { gc: true })));
    if (process.env.BENCH_HEAP_SNAPSHOT) await ask(cluster.nodes[0]!, { type: 'probe', heapSnapshot: process.env.BENCH_HEAP_SNAPSHOT }, 120_000);
    const resultP = waitFor<WorkloadResult>(gen, 'result', (spec.warmupS + spec.durationS + 120) * 1000);
    resultP.catch(() => {});
    const startP = waitFor(gen, 'window-start', (spec.warmupS + 30) * 1000);
    const endP = waitFor(gen, 'window-end', (spec.warmupS + spec.durationS + 60) * 1000);
    gen.proc.send({ type: 'go' });

    await race(startP);
    const t0 = performance.now();
    const cpu0 = cluster.nodes.map((n) => cpuSeconds(n.pid));
    const atStart = await Promise.all(cluster.nodes.map((n) => probe(n, { reset: true })));
    await race(endP);
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = cluster.nodes.map((n) => cpuSeconds(n.pid));
    const rss = cluster.nodes.map((n) => rssBytes(n.pid));
    const eld = await Promise.all(cluster.nodes.map((n) => probe(n)));
    const workload = await race(resultP);
    const active = await Promise.all(cluster.nodes.map((n) => probe(n, { gc: true })));

    const nodes: NodeSample[] = cluster.nodes.map((_, i) => ({
      cpu: Math.round(((cpu1[i]! - cpu0[i]!) / seconds) * 1000) / 1000,
      rssMiB: MiB(rss[i]!),
      eldP99: eld[i]!.eld.p99,
      eldMax: eld[i]!.eld.max,
      rssBaseMiB: MiB(base[i]!.memory.rss),
      rssJoinedMiB: MiB(joined[i]!.memory.rss),
      heapBaseMiB: MiB(heapOf(base[i]!)),
      heapJoinedMiB: MiB(heapOf(joined[i]!)),
      heapActiveMiB: MiB(heapOf(active[i]!)),
      windowUs: [atStart[i]!.monoUs, eld[i]!.monoUs],
    }));
    return { workload, nodes, pinnedCpu };
  } finally {
    await gen?.stop(2000);
    await cluster.stop();
  }
}

