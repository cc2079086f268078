/**
 * npx tsx bench/merge.ts --name NAME A.json B.json ...
 * Merges results of several runs (say the quick run and a sweep of larger
 * steps) into one report: steps by (system, rooms) from the first file that
 * has them, joins, memory and profile likewise; capacity and targets redone.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { markdown, svgChart, type BenchResults } from './report.js';
import { capacity } from './steps.js';
import { PROJECT_ROOT } from './systems/cluster.js';
import { targets } from './targets.js';

const { values, positionals } = parseArgs({ options: { name: { type: 'string', default: 'report' } }, allowPositionals: true });
if (positionals.length === 0) {
  console.error('usage: npx tsx bench/merge.ts --name NAME results1.json results2.json ...');
  process.exit(2);
}
const runs = positionals.map((f) => JSON.parse(readFileSync(f, 'utf8')) as BenchResults);
const first = runs[0]!;
const merged: BenchResults = {
  ...first,
  mode: `merged: ${runs.map((r, i) => `${positionals[i]!.split('/').pop()} (${r.mode})`).join(' + ')}`,
  startedAt: runs.map((r) => r.startedAt).sort()[0]!,
  finishedAt: runs.map((r) => r.finishedAt).sort().at(-1)!,
  steps: [],
  join: [],
  memory: [],
};
for (const r of runs) {
  for (const s of r.steps) if (!merged.steps.some((m) => m.system === s.system && m.rooms === s.rooms)) merged.steps.push(s);
  for (const j of r.join) if (!merged.join.some((m) => m.system === j.system && m.history === j.history)) merged.join.push(j);
  for (const m of r.memory) if (!merged.memory.some((x) => x.system === m.system)) merged.memory.push(m);
  if (!merged.profile && r.profile) merged.profile = r.profile;
}
merged.capacity = { duet: capacity(merged.steps, 'duet'), hocuspocus: capacity(merged.steps, 'hocuspocus') };
merged.targets = targets(merged);
const dir = join(PROJECT_ROOT, 'bench', 'results');
writeFileSync(join(dir, `${values.name}.json`), JSON.stringify(merged, null, 1) + '\n');
writeFileSync(join(dir, `${values.name}.md`), markdown(merged));
writeFileSync(join(dir, `${values.name}.svg`), svgChart(merged));
console.log(`wrote bench/results/${values.name}.json, .md, .svg`);
