/**
 * What one idle Duet node costs to start and to keep: the time from spawning
 * it to its first /readyz 200 (the warm-up included), then its heap after a
 * full collection and its RSS, 2 s later. Run as `npm start` runs it
 * (startCommand). With --duet-root, alternates this checkout with another
 * (e.g. one whose start script ran the sources through tsx), round by round.
 * One node, SQLite, with Redis, or without it as on a laptop (--laptop), on an
 * otherwise idle machine.
 *
 *   npx tsx bench/node-start.ts [--duet-root DIR] [--rounds 5] [--laptop] [--name NAME]
 *
 * Writes bench/results/NAME.json (default node-start.json).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machine, versions } from './machine.js';
import { median } from './steps.js';
import { duetNodeArgs, prepareNodes, probe, PROJECT_ROOT, startCluster, startCommand } from './systems/cluster.js';

const { values: a } = parseArgs({
  options: {
    'duet-root': { type: 'string' },
    rounds: { type: 'string', default: '5' },
    laptop: { type: 'boolean', default: false },
    name: { type: 'string', default: 'node-start' },
  },
});
const roots = [PROJECT_ROOT, ...(a['duet-root'] ? [a['duet-root']] : [])];
const rounds = Number(a.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');

interface Sample {
  readyMs: number;
  heapMiB: number;
  rssMiB: number;
}
const samples = new Map<string, Sample[]>(roots.map((r) => [r, []]));
// Builds (the bundle, the probe) happen here, not inside a timed start.
for (const root of roots) await prepareNodes('duet', root);

for (let round = 0; round < rounds; round++) {
  // Alternate which checkout goes first.
  for (const root of round % 2 ? [...roots].reverse() : roots) {
    const started = performance.now();
    const cluster = await startCluster({ system: 'duet', nodes: 1, store: 'sqlite', adapter: 'sharded', hpPersist: 'none', duetRoot: root, noRedis: a.laptop });
    const readyMs = performance.now() - started;
    try {
      await new Promise((r) => setTimeout(r, 2000));
      const { memory } = await probe(cluster.nodes[0]!, { gc: true });
      const sample = { readyMs, heapMiB: memory.heapUsed / 2 ** 20, rssMiB: memory.rss / 2 ** 20 };
      samples.get(root)!.push(sample);
      process.stderr.write(`[node-start] round ${round + 1} ${root}: ready ${readyMs.toFixed(0)} ms, heap ${sample.heapMiB.toFixed(1)} MiB, RSS ${sample.rssMiB.toFixed(1)} MiB\n`);
    } finally {
      await cluster.stop();
    }
  }
}

const result = {
  run: new Date().toISOString(),
  machine: machine(),
  rounds,
  redis: !a.laptop,
  checkouts: await Promise.all(
    roots.map(async (root) => {
      const xs = samples.get(root)!;
      return {
        root,
        duet: (await versions(root)).duet,
        start: `node ${duetNodeArgs(startCommand(root)).join(' ')}`,
        median: { readyMs: median(xs.map((x) => x.readyMs)), heapMiB: median(xs.map((x) => x.heapMiB)), rssMiB: median(xs.map((x) => x.rssMiB)) },
        samples: xs,
      };
    }),
  ),
};
const file = join(PROJECT_ROOT, 'bench', 'results', `${a.name}.json`);
writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
for (const c of result.checkouts) {
  console.log(
    `${c.duet} (${c.start}): ready ${c.median.readyMs.toFixed(0)} ms, heap ${c.median.heapMiB.toFixed(1)} MiB, RSS ${c.median.rssMiB.toFixed(1)} MiB (medians of ${rounds})`,
  );
}
console.log(`wrote ${file}`);
