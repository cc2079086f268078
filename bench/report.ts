/** Results -> a Markdown table and an SVG chart (latency vs rooms, both systems), no chart library. */
import type { JoinResult } from './join.js';
import type { LatencySummary } from './histogram.js';
import type { ProfileSummary } from './profile.js';
import { CAPACITY_P99_MS, type StepSummary } from './steps.js';
import type { SystemName } from './workload.js';

export interface MemoryResult {
  system: SystemName;
  rooms: number;
  /** Per idle socket, per node: heap+external after GC, and RSS, KiB; the median of the trials. */
  heapPerSocketKiB: number;
  rssPerSocketKiB: number;
  /** Each trial's figures (older results have none). */
  trials?: Array<{ heapPerSocketKiB: number; rssPerSocketKiB: number }>;
}

export interface Target {
  what: string;
  goal: string;
  measured: string;
  met: boolean | null;
}

export interface BenchResults {
  mode: string;
  startedAt: string;
  finishedAt: string;
  machine: Record<string, string | number>;
  versions: Record<string, string>;
  settings: Record<string, unknown>;
  steps: StepSummary[];
  capacity: Record<SystemName, number>;
  join: JoinResult[];
  memory: MemoryResult[];
  profile?: { rooms: number; duet?: ProfileSummary; hocuspocus?: ProfileSummary };
  targets: Target[];
}

const NAMES: Record<SystemName, string> = { duet: 'Duet', hocuspocus: 'Hocuspocus' };
const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');

export function markdown(r: BenchResults): string {
  const out: string[] = [];
  out.push(`# Benchmark results (${r.mode})`, '');
  out.push(`Run ${r.startedAt} → ${r.finishedAt}. Machine: ${Object.entries(r.machine).map(([k, v]) => `${k} ${v}`).join(', ')}.`, '');
  out.push(`Versions: ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`, '');
  out.push(`Settings: ${Object.entries(r.settings).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(', ')}.`, '');
  out.push('## Edit propagation (typist\'s local change → each other client\'s applied change)', '');
  out.push(
    '| rooms | system | clients | trials (discarded) | cross-node p50 / p95 / p99 / max ms | all p99 ms | trial p99s (cross) | deliveries/s (of them edits) | lost / diverged / unacked | node CPU s/s (both) | node RSS MiB | node loop p99 (max) ms | generator CPU | pass |',
    '|---:|---|---:|---|---|---:|---|---:|---|---:|---:|---:|---:|---|',
  );
  for (const s of [...r.steps].sort((a, b) => a.rooms - b.rooms || a.system.localeCompare(b.system))) {
    out.push(
      `| ${s.rooms} | ${NAMES[s.system]} | ${s.clients} | ${s.trials} (${s.discarded}) | ${f(s.cross.p50, 2)} / ${f(s.cross.p95)} / ${f(s.cross.p99)} / ${f(s.cross.max)} | ${f(s.all.p99)} | ${s.trialCrossP99.map((x) => f(x)).join(', ')} | ${s.deliveriesPerSecond}${s.editDeliveriesPerSecond !== undefined ? ` (${s.editDeliveriesPerSecond})` : ''} | ${s.lost} / ${s.diverged} / ${s.unacknowledged}${s.serverMismatch ? ` (server ${s.serverMismatch})` : ''} | ${f(s.nodeCpu, 2)} | ${f(s.nodeRssMiB, 0)} | ${f(s.nodeEldP99)}${s.nodeEldMax !== undefined ? ` (${f(s.nodeEldMax)})` : ''} | ${f(s.generatorCpu, 2)}${s.generators > 1 ? ` (×${s.generators})` : ''} | ${s.pass ? 'yes' : 'no'} |`,
    );
  }
  out.push('', `Capacity (largest step with every-receiver p99 ≤ ${CAPACITY_P99_MS} ms and nothing lost, every smaller step passing): ${Object.entries(r.capacity).map(([k, v]) => `${NAMES[k as SystemName]} ${v || 'none of the steps'}${v ? ' rooms' : ''}`).join(', ')}.`, '');
  const withMachine = r.steps.filter((s) => s.machine);
  if (withMachine.length) {
    out.push(
      '## Where the machine\'s CPU went',
      '',
      'CPU seconds per second during the window (the machine has 2), the mean of the valid trials: the whole machine busy, then the nodes, the load generators, PostgreSQL\'s processes and Redis; the rest is the orchestrator and kernel work not charged to a process. Per delivery: the servers\' side (nodes, PostgreSQL, Redis) and the generators\' side, µs of CPU per document, awareness or chat delivery. A generator whose event loop lags (its p99, the worst generator) is waiting for a core: its clients\' timings then include that wait. *Waited*: seconds per second the main thread (the event loop) of the worse node and of the worse generator spent ready to run but without a core (the kernel\'s run delay); a server\'s latency includes its share of that, a generator\'s timings theirs.',
      '',
      '| rooms | system | machine busy | nodes | generators | PostgreSQL | Redis | rest | servers µs / delivery | generators µs / delivery | generator loop p99 ms | waited: node / generator |',
      '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const s of [...withMachine].sort((a, b) => a.rooms - b.rooms || a.system.localeCompare(b.system))) {
      const m = s.machine!;
      const per = (x: number) => (s.deliveriesPerSecond > 0 ? f((x * 1e6) / s.deliveriesPerSecond, 0) : '–');
      out.push(
        `| ${s.rooms} | ${NAMES[s.system]} | ${f(m.busy, 2)} | ${f(m.nodes, 2)} | ${f(m.generators, 2)} | ${f(m.postgres, 2)} | ${f(m.redis, 2)} | ${f(m.busy - m.nodes - m.generators - m.postgres - m.redis, 2)} | ${per(m.nodes + m.postgres + m.redis)} | ${per(m.generators)} | ${f(s.generatorEldP99)} | ${s.nodeWaited !== undefined ? `${f(s.nodeWaited, 2)} / ${f(s.generatorWaited ?? 0, 2)}` : '–'} |`,
      );
    }
    out.push('');
  }
  if (r.join.length) {
    out.push(
      '## Join of a long document',
      '',
      'A fresh client (no local state) joining, timed from connect until it has the whole document (for Duet, and its `session`): *cold*, on a node just restarted (it loads the document); *open*, while another client has it open on the same node. *Reconnect*: a client that has the whole document (its last join\'s) joining on a node just restarted, as when its own node went down; timed the same way.',
      '',
      '| system | history | documents × updates | chars | joins | cold p50 / p95 / max ms | open p50 / p95 / max ms | reconnect p50 / p95 / max ms | failures |',
      '|---|---|---|---:|---:|---:|---:|---:|---:|',
    );
    for (const j of r.join) {
      const times = (s: LatencySummary | undefined) => (s ? `${f(s.p50)} / ${f(s.p95)} / ${f(s.max)}` : '–');
      out.push(`| ${NAMES[j.system]} | ${j.history ?? 'synthetic, 8 writers at once'} | ${j.docs} × ${j.updates} | ${j.chars} | ${j.cold.count} | ${times(j.cold)} | ${times(j.open)} | ${times(j.reconnect)} | ${j.failures} |`);
    }
    out.push('');
  }
  if (r.memory.length) {
    out.push(
      '## Memory',
      '',
      '| system | idle sockets at | per idle socket, heap KiB | per idle socket, RSS KiB | trials (heap / RSS) | per active room (heap KiB, its sockets included) |',
      '|---|---:|---:|---:|---|---:|',
    );
    for (const m of r.memory) {
      const active = r.steps.filter((s) => s.system === m.system).sort((a, b) => b.rooms - a.rooms)[0];
      const trials = m.trials?.map((t) => `${f(t.heapPerSocketKiB)} / ${f(t.rssPerSocketKiB)}`).join(', ') ?? '–';
      out.push(
        `| ${NAMES[m.system]} | ${m.rooms} rooms × 2 → × 8 | ${f(m.heapPerSocketKiB)} | ${f(m.rssPerSocketKiB)} | ${trials} | ${active ? `${f(active.heapPerRoomKiB)} (at ${active.rooms} rooms)` : '–'} |`,
      );
    }
    out.push('');
  }
  if (r.targets.length) {
    out.push('## Targets', '', '| target | goal | measured | met |', '|---|---|---|---|');
    for (const t of r.targets) out.push(`| ${t.what} | ${t.goal} | ${t.measured} | ${t.met === null ? 'not measured' : t.met ? 'yes' : 'no'} |`);
    out.push('');
  }
  if (r.profile) {
    out.push(`## Profile (one node, ${r.profile.rooms} rooms)`, '');
    for (const sys of ['duet', 'hocuspocus'] as const) {
      const p = r.profile[sys];
      if (!p) continue;
      out.push(`${NAMES[sys]}: busy ${p.busyPercent}% of the window. By area (share of busy time): ${p.byArea.map((a) => `${a.name} ${a.percent}%`).join(', ')}.`, '');
      out.push(`Top functions: ${p.topFunctions.slice(0, 10).map((a) => `\`${a.name}\` ${a.percent}%`).join(', ')}.`, '');
    }
  }
  return out.join('\n') + '\n';
}

const COLORS: Record<SystemName, string> = { duet: '#1f6feb', hocuspocus: '#d9480f' };

/** p50 (dashed) and p99 (solid) of cross-node latency vs rooms, log scale. */
export function svgChart(r: BenchResults): string {
  const W = 720;
  const H = 420;
  const m = { l: 64, r: 150, t: 36, b: 52 };
  const steps = r.steps.filter((s) => s.cross.count > 0);
  const xs = [...new Set(steps.map((s) => s.rooms))].sort((a, b) => a - b);
  const xMax = Math.max(100, ...xs);
  const yVals = steps.flatMap((s) => [s.cross.p50, s.cross.p99]).filter((v) => v > 0);
  const yMin = 0.5;
  const yMax = Math.max(100, ...yVals) * 1.2;
  const x = (v: number) => m.l + (v / xMax) * (W - m.l - m.r);
  const y = (v: number) => m.t + (1 - (Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  parts.push(`<text x="${m.l}" y="20" font-size="14" font-weight="bold">Cross-node edit latency vs rooms (4 clients/room, 1 typist at 5 updates/s)</text>`);
  for (let e = Math.ceil(Math.log10(yMin)); 10 ** e <= yMax; e++) {
    for (const k of [1, 2, 5]) {
      const v = k * 10 ** e;
      if (v < yMin || v > yMax) continue;
      parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
      parts.push(`<text x="${m.l - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${v}</text>`);
    }
  }
  for (const [v, label] of [
    [CAPACITY_P99_MS, `capacity limit ${CAPACITY_P99_MS} ms`],
    [20, 'p99 target 20 ms'],
  ] as const) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(v)}" y2="${y(v)}" stroke="#999" stroke-dasharray="2,3"/>`);
    // Inside the plot, above its line: right of it, the legend's rows can fall at the same height.
    parts.push(`<text x="${m.l + 4}" y="${y(v) - 3}" fill="#777" font-size="11">${label}</text>`);
  }
  for (const v of xs) {
    parts.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${H - m.b}" y2="${H - m.b + 5}" stroke="#555"/>`);
    parts.push(`<text x="${x(v)}" y="${H - m.b + 18}" text-anchor="middle" fill="#555">${v}</text>`);
  }
  parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="#555"/><line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="#555"/>`);
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">rooms (2 nodes + Redis + PostgreSQL, 2 cores)</text>`);
  parts.push(`<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">latency, ms (log scale)</text>`);
  let legendY = m.t + 60;
  for (const sys of ['duet', 'hocuspocus'] as const) {
    const pts = steps.filter((s) => s.system === sys).sort((a, b) => a.rooms - b.rooms);
    if (!pts.length) continue;
    for (const [key, dash] of [
      ['p99', ''],
      ['p50', ' stroke-dasharray="6,4"'],
    ] as const) {
      const d = pts.map((s, i) => `${i ? 'L' : 'M'}${x(s.rooms).toFixed(1)},${y(s.cross[key]).toFixed(1)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${COLORS[sys]}" stroke-width="2"${dash}/>`);
      for (const s of pts) {
        parts.push(`<circle cx="${x(s.rooms).toFixed(1)}" cy="${y(s.cross[key]).toFixed(1)}" r="3" fill="${s.pass ? COLORS[sys] : '#fff'}" stroke="${COLORS[sys]}"/>`);
      }
      parts.push(`<line x1="${W - m.r + 8}" x2="${W - m.r + 34}" y1="${legendY}" y2="${legendY}" stroke="${COLORS[sys]}" stroke-width="2"${dash}/>`);
      parts.push(`<text x="${W - m.r + 40}" y="${legendY + 4}">${NAMES[sys]} ${key}</text>`);
      legendY += 18;
    }
  }
  parts.push(`<text x="${W - m.r + 8}" y="${legendY + 10}" fill="#777" font-size="11">hollow: step failed</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
