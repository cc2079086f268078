/**
 * Where a node's CPU time goes, from a V8 .cpuprofile (node --cpu-prof):
 * self time per function, and grouped by where the code lives (a package,
 * Duet's own server code, or V8's (garbage collector), (program), (idle)).
 * A node runs Duet as one bundled file (dist/server/main.js); its frames are
 * mapped back to their source files through the bundle's source map, so
 * Duet's own code still splits by folder.
 *
 *   npx tsx bench/profile.ts FILE.cpuprofile [--top 15] [--match REGEX]
 *
 * `--match`: also the share of the functions whose name or file matches.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber?: number;
}

interface CpuProfileNode {
  id: number;
  callFrame: CallFrame;
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
  /** With `match`: the share of busy time in functions whose name (with its file) matches, percent. */
  matchedPercent?: number;
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

/** A frame as the summaries name it: function, then its file (a package's, or Duet's from its folder) and line. */
export function frameLabel(functionName: string, url: string, lineNumber: number): string {
  const where = url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(server|shared|bench)\//, '$1/')}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'} ${where}`.trim();
}

/**
 * Maps a frame of a bundled file of Duet's to its source (url and line),
 * through the `.map` beside the file; other frames as they are. One map per
 * bundle, read once.
 */
export function sourceMapper(): (frame: CallFrame) => { url: string; lineNumber: number } {
  const maps = new Map<string, SourceMap | undefined>();
  const mapOf = (url: string): SourceMap | undefined => {
    if (!maps.has(url)) {
      let map: SourceMap | undefined;
      // Packages' own maps point into sources they do not ship: their frames stay as they are.
      // A CommonJS file's frames name it by path, an ES module's by file: URL.
      const path = url.startsWith('file:') ? fileURLToPath(url) : url.startsWith('/') ? url : undefined;
      const file = path && !path.includes('/node_modules/') ? path : undefined;
      if (file && existsSync(`${file}.map`)) {
        const payload = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0];
        // Sources are relative to the map's folder (and its sourceRoot): make them absolute paths.
        const root = resolve(dirname(file), payload.sourceRoot ?? '');
        map = new SourceMap({ ...payload, sourceRoot: '', sources: payload.sources.map((src) => resolve(root, src)) });
      }
      maps.set(url, map);
    }
    return maps.get(url);
  };
  return (frame) => {
    const map = frame.url ? mapOf(frame.url) : undefined;
    const entry = map?.findEntry(frame.lineNumber, frame.columnNumber ?? 0) as { originalSource?: string; originalLine?: number } | undefined;
    if (!entry?.originalSource) return { url: frame.url, lineNumber: frame.lineNumber };
    return { url: `file://${entry.originalSource}`, lineNumber: entry.originalLine ?? 0 };
  };
}

/** `window`: only samples taken within it (µs on the process's monotonic clock, as the profile's timestamps). */
export function summarizeProfile(file: string, window?: [number, number], top = 15, match?: RegExp): ProfileSummary {
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
  const original = sourceMapper();
  let idle = 0;
  let total = 0;
  let matched = 0;
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    const { functionName } = node.callFrame;
    const { url, lineNumber } = original(node.callFrame);
    total += us;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const name = frameLabel(functionName, url, lineNumber);
    fns.set(name, (fns.get(name) ?? 0) + us);
    if (match?.test(name)) matched += us;
  }
  const busy = total - idle;
  const rank = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, percent: Math.round((us / busy) * 1000) / 10 }));
  return {
    busyPercent: Math.round((busy / Math.max(1, total)) * 1000) / 10,
    busyMs: Math.round(busy / 1000),
    byArea: rank(areas),
    topFunctions: rank(fns),
    ...(match ? { matchedPercent: Math.round((matched / Math.max(1, busy)) * 10000) / 100 } : {}),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '15' }, match: { type: 'string' } } });
  if (positionals.length === 0) throw new Error('usage: npx tsx bench/profile.ts FILE.cpuprofile... [--top N] [--match REGEX]');
  const match = values.match ? new RegExp(values.match) : undefined;
  for (const file of positionals) {
    const s = summarizeProfile(file, undefined, Number(values.top), match);
    console.log(`${file}: busy ${s.busyPercent}% (${s.busyMs} ms)`);
    console.log(`  by area: ${s.byArea.map((a) => `${a.name} ${a.percent}%`).join(', ')}`);
    console.log(`  top functions: ${s.topFunctions.map((f) => `${f.name} ${f.percent}%`).join(', ')}`);
    if (match) console.log(`  matching /${match.source}/: ${s.matchedPercent}% of busy time`);
  }
}
