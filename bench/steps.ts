/** Trials -> one step's summary, and the capacity rule. */
import { merge, summarize, type LatencySummary } from './histogram.js';
import type { MachineSample, TrialResult } from './trial.js';
import type { SystemName } from './workload.js';

/** The capacity rule: p99 (every receiver) at most this, and nothing lost or diverged. */
export const CAPACITY_P99_MS = 50;

export interface StepSummary {
  system: SystemName;
  rooms: number;
  clients: number;
  trials: number;
  /** Trials discarded because the generator itself was saturated. */
  discarded: number;
  /** Pooled over the valid trials. */
  cross: LatencySummary;
  same: LatencySummary;
  all: LatencySummary;
  /** p99 (cross-node) of each valid trial, to show the spread. */
  trialCrossP99: number[];
  deliveriesPerSecond: number;
  /** Of those, document updates (edits applied by a receiver); absent in older results. */
  editDeliveriesPerSecond?: number;
  /** Edits the typists made (offered), per second. */
  editsPerSecond: number;
  lost: number;
  diverged: number;
  unacknowledged: number;
  serverMismatch: number | null;
  /** Both nodes together, CPU seconds per second (the machine has 2). */
  nodeCpu: number;
  nodeRssMiB: number;
  nodeEldP99: number;
  /** The longest event-loop delay of any node in any valid trial (ms; absent from older results, as are the gc fields). */
  nodeEldMax?: number;
  /** The collector, per node and window, the worst of the valid trials: longest entry, longest full one, sum (ms), full ones. */
  nodeGcMaxMs?: number;
  nodeGcMajorMaxMs?: number;
  nodeGcTotalMs?: number;
  nodeGcMajorCount?: number;
  /** The old generation's growth over the window on the node where it grew most (MiB; net of full collections). */
  nodeOldGrowthMiB?: number;
  /**
   * Seconds per second a main thread spent runnable but waiting for a core
   * (the scheduler's run delay), the mean of the valid trials: the nodes' (the
   * worse node) and the generators' (the worse generator). Absent in older results.
   */
  nodeWaited?: number;
  generatorWaited?: number;
  /** Generator processes (each pinned to a core), and the busiest one's CPU s/s and loop p99. */
  generators: number;
  generatorCpu: number;
  generatorEldP99: number;
  /** Where the machine's CPU went, the mean of the valid trials (absent in older results). */
  machine?: MachineSample;
  /** Per active room (with its sockets), per node: heap+external after GC, and RSS, KiB. */
  heapPerRoomKiB: number;
  rssPerRoomKiB: number;
  joinP95: number;
  pass: boolean;
  errors: string[];
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

export function summarizeStep(system: SystemName, rooms: number, trials: TrialResult[]): StepSummary {
  const valid = trials.filter((t) => !t.workload.generator.saturated);
  const use = valid.length > 0 ? valid : [];
  const w = use.map((t) => t.workload);
  const cross = summarize(merge(w.map((x) => x.hist.cross)));
  const all = summarize(merge(w.map((x) => x.hist.all)));
  const lost = trials.reduce((a, t) => a + t.workload.lost, 0);
  const diverged = trials.reduce((a, t) => a + t.workload.diverged, 0);
  const unacknowledged = trials.reduce((a, t) => a + t.workload.unacknowledged, 0);
  const mism = trials.map((t) => t.workload.serverMismatch);
  const perNode = (f: (n: TrialResult['nodes'][number]) => number) => mean(use.flatMap((t) => t.nodes.map(f)));
  const worstNode = (f: (n: TrialResult['nodes'][number]) => number, floor = 0) => Math.max(floor, ...use.flatMap((t) => t.nodes.map(f)));
  return {
    system,
    rooms,
    clients: trials[0]?.workload.clients ?? 0,
    trials: trials.length,
    discarded: trials.length - valid.length,
    cross,
    same: summarize(merge(w.map((x) => x.hist.same))),
    all,
    trialCrossP99: w.map((x) => summarize(merge([x.hist.cross])).p99),
    deliveriesPerSecond: Math.round(mean(w.map((x) => x.deliveries.perSecond))),
    editDeliveriesPerSecond: Math.round(mean(w.map((x) => x.deliveries.doc / x.windowS))),
    editsPerSecond: Math.round(mean(w.map((x) => x.edits / x.windowS))),
    lost,
    diverged,
    unacknowledged,
    serverMismatch: mism.every((m) => m === null) ? null : mism.reduce<number>((a, m) => a + (m ?? 0), 0),
    nodeCpu: round(mean(use.map((t) => t.nodes.reduce((a, n) => a + n.cpu, 0))), 2),
    nodeRssMiB: round(worstNode((n) => n.rssMiB)),
    nodeEldP99: round(worstNode((n) => n.eldP99)),
    nodeEldMax: round(worstNode((n) => n.eldMax)),
    nodeGcMaxMs: round(worstNode((n) => n.gcMaxMs)),
    nodeGcMajorMaxMs: round(worstNode((n) => n.gcMajorMaxMs)),
    nodeGcTotalMs: round(worstNode((n) => n.gcTotalMs)),
    nodeGcMajorCount: worstNode((n) => n.gcMajorCount),
    // Not floored at 0 like the others: a full collection can free more than the window promoted.
    ...(use.length ? { nodeOldGrowthMiB: round(worstNode((n) => n.oldGrowthMiB, -Infinity), 2) } : {}),
    ...(use.length && use.every((t) => t.workload.generator.waited !== undefined && t.nodes.every((n) => n.waited !== undefined))
      ? {
          nodeWaited: round(mean(use.map((t) => Math.max(...t.nodes.map((n) => n.waited!)))), 2),
          generatorWaited: round(mean(use.map((t) => t.workload.generator.waited!)), 2),
        }
      : {}),
    generators: Math.max(1, ...trials.map((t) => t.generators)),
    generatorCpu: round(Math.max(0, ...trials.map((t) => t.workload.generator.cpu)), 2),
    generatorEldP99: round(Math.max(0, ...trials.map((t) => t.workload.generator.eldP99))),
    machine: machineMean(use),
    heapPerRoomKiB: round((perNode((n) => n.heapActiveMiB - n.heapBaseMiB) * 1024) / rooms),
    rssPerRoomKiB: round((perNode((n) => n.rssMiB - n.rssBaseMiB) * 1024) / rooms),
    joinP95: round(mean(w.map((x) => x.join.p95))),
    pass: valid.length > 0 && all.p99 <= CAPACITY_P99_MS && lost === 0 && diverged === 0 && unacknowledged === 0 && mism.every((m) => !m),
    errors: [...new Set(trials.flatMap((t) => t.workload.errors))].slice(0, 5),
  };
}

function machineMean(trials: TrialResult[]): MachineSample | undefined {
  const ms = trials.flatMap((t) => (t.machine ? [t.machine] : []));
  if (ms.length === 0) return undefined;
  const m = (f: (x: MachineSample) => number) => round(mean(ms.map(f)), 2);
  return { busy: m((x) => x.busy), nodes: m((x) => x.nodes), generators: m((x) => x.generators), postgres: m((x) => x.postgres), redis: m((x) => x.redis) };
}

/** The largest step that passed, with every smaller step passing too. */
export function capacity(steps: StepSummary[], system: SystemName): number {
  let cap = 0;
  for (const s of steps.filter((x) => x.system === system).sort((a, b) => a.rooms - b.rooms)) {
    if (!s.pass) break;
    cap = s.rooms;
  }
  return cap;
}
