/**
 * Where a node's CPU time goes, from a V8 .cpuprofile (node --cpu-prof):
 * self time per function, and grouped by where the code lives (a package,
 * Duet's own server code, or V8's (garbage collector), (program), (idle)).
 */
import { readFileSync } from 'node:fs';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileShare {
  name: string;
  /** Share of the non-idle time, percent. */
  percent: number;
}

export interface ProfileSummary {
  /** Share of wall time the thread was busy (not idle), percent. */
  busyPercent: number;
  busyMs: number;
  byArea: ProfileShare[];
  topFunctions: ProfileShare[];
}

/** node_modules/<pkg> (or @scope/pkg), Duet's own dirs, node: internals. */
const SOCKET_WRITES = new Set(['writev', 'writeBuffer', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString']);

export function areaOf(url: string, fn: string): string {
  // Native frames: a write to a socket is a syscall, and on loopback it also wakes the reader.
  if (SOCKET_WRITES.has(fn)) return 'socket writes (syscalls)';
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  const own = /\/(server|shared|bench)\/(.+?)(?:\.ts)?$/.exec(url);
  if (own) return `duet:${own[1]}/${own[2]!.split('/')[0]}`;
  if (url.startsWith('node:')) return 'node internals';
  return url.split('/').slice(-2).join('/');
}

/** `window`: only samples taken within it (µs on the process's monotonic clock, as the profile's timestamps). */
export function summarizeProfile(file: string, window?: [number, number], top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (window && (t < window[0] || t > window[1])) return;
    self.set(id, (self.get(id) ?? 0) + dt);
  });
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  let idle = 0;
  let total = 0;
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    total += us;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const name = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(server|shared|bench)\//, '$1/')}:${lineNumber + 1}` : ''}`.trim();
    fns.set(name, (fns.get(name) ?? 0) + us);
  }
  const busy = total - idle;
  const rank = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, percent: Math.round((us / busy) * 1000) / 10 }));
  return { busyPercent: Math.round((busy / Math.max(1, total)) * 1000) / 10, busyMs: Math.round(busy / 1000), byArea: rank(areas), topFunctions: rank(fns) };
}
