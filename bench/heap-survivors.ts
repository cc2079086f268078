/**
 * What a node allocates that outlives the young generation, from a V8
 * sampling heap profile taken over a benchmark window with objects the
 * scavenger frees left out (BENCH_HEAP_SAMPLE_DIR, bench/node-probe.ts).
 * Such objects are copied by the scavenger, promoted to the old generation
 * and left there for a full collection to find (and often to compact): the
 * cost behind a node's longest collector pauses. (Young garbage that a full
 * collection in the window frees counts too: V8 files it under the full
 * collection. The probe stops sampling before its own full collections.)
 * Grouped by where the allocation happened, and by the nearest frame of
 * Duet's own code above it (or, for code Duet does not call, the nearest
 * package frame).
 *
 *   npx tsx bench/heap-survivors.ts FILE.heapprofile... [--top 20]
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { areaOf, frameLabel, sourceMapper, type CallFrame } from './profile.js';

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

export interface HeapSurvivors {
  /** Sampled bytes (an estimate of all such bytes allocated in the window). */
  totalBytes: number;
  byArea: Array<[string, number]>;
  byFunction: Array<[string, number]>;
  byOwnCaller: Array<[string, number]>;
}

const isOwn = (area: string) => area.startsWith('duet:');
const isLibrary = (area: string) => !isOwn(area) && area !== 'node internals' && !area.startsWith('(');

export function summarizeHeapProfile(file: string, top = 20): HeapSurvivors {
  const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode };
  const original = sourceMapper();
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  const callers = new Map<string, number>();
  let total = 0;
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  const walk = (node: HeapNode, stack: Array<{ area: string; name: string }>) => {
    const { url, lineNumber } = original(node.callFrame);
    const frame = { area: areaOf(url, node.callFrame.functionName), name: frameLabel(node.callFrame.functionName, url, lineNumber) };
    const here = [...stack, frame];
    if (node.selfSize > 0) {
      total += node.selfSize;
      add(areas, frame.area, node.selfSize);
      add(fns, frame.name, node.selfSize);
      const own = here.findLast((f) => isOwn(f.area)) ?? here.findLast((f) => isLibrary(f.area));
      add(callers, own ? `${own.area}: ${own.name}` : '(no Duet or package frame)', node.selfSize);
    }
    for (const child of node.children) walk(child, here);
  };
  walk(head, []);
  const rank = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
  return { totalBytes: total, byArea: rank(areas), byFunction: rank(fns), byOwnCaller: rank(callers) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '20' } } });
  if (positionals.length === 0) throw new Error('usage: npx tsx bench/heap-survivors.ts FILE.heapprofile... [--top N]');
  const kb = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
  for (const file of positionals) {
    const s = summarizeHeapProfile(file, Number(values.top));
    const share = (b: number) => `${kb(b)} (${((b / s.totalBytes) * 100).toFixed(1)}%)`;
    console.log(`${file}: ${kb(s.totalBytes)} outlived the young generation`);
    for (const [title, list] of [
      ['by area', s.byArea],
      ['by allocating function', s.byFunction],
      ['by nearest Duet frame (else package frame)', s.byOwnCaller],
    ] as const) {
      console.log(`  ${title}:`);
      for (const [name, bytes] of list) console.log(`    ${share(bytes)}  ${name}`);
    }
  }
}
