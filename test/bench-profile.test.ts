/**
 * The benchmark's profile summary (bench/profile.ts) on a real V8 profile of
 * a bundled program: the README's "where a node's time goes" comes from it,
 * and a node runs Duet as one bundled file; and the heap survivors' summary
 * (bench/heap-survivors.ts) on what the node probe samples.
 */
import { execFile, fork } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { summarizeHeapProfile } from '../bench/heap-survivors.js';
import { summarizeProfile } from '../bench/profile.js';
import { tempDir } from './helpers.js';

describe('bench profile summary', () => {
  it('maps a bundle\'s frames back to their source files through its source map', async () => {
    const dir = tempDir('duet-profile-');
    mkdirSync(join(dir, 'server', 'realtime'), { recursive: true });
    // Burns 400 ms of CPU in a function of its own file, which the bundle inlines into main.js.
    writeFileSync(
      join(dir, 'server', 'realtime', 'spin.ts'),
      ['export function spinFor(ms: number): number {', '  let n = 0;', '  const end = Date.now() + ms;', '  while (Date.now() < end) n++;', '  return n;', '}', ''].join('\n'),
    );
    writeFileSync(join(dir, 'server', 'main.ts'), "import { spinFor } from './realtime/spin.js';\nconsole.log(spinFor(400));\n");
    const outfile = join(dir, 'dist', 'server', 'main.js');
    await build({ entryPoints: [join(dir, 'server', 'main.ts')], bundle: true, platform: 'node', format: 'esm', sourcemap: true, outfile, logLevel: 'silent' });
    const profiles = join(dir, 'profiles');
    await promisify(execFile)(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profiles, outfile]);
    const [profile] = readdirSync(profiles);

    const summary = summarizeProfile(join(profiles, profile!), undefined, 5, /spinFor/);
    // Not "duet:server/main.js", the bundle: the folder of the function's source.
    expect(summary.byArea[0]).toMatchObject({ name: 'duet:server/realtime' });
    expect(summary.byArea[0]!.percent).toBeGreaterThan(50);
    expect(summary.topFunctions[0]!.name).toMatch(/^spinFor server\/realtime\/spin\.ts:[1-5]$/);
    expect(summary.matchedPercent).toBeGreaterThan(50);
  });
});

describe('bench heap survivors', () => {
  it('keeps, over a probe window, what outlives the young generation, names the Duet code that allocated it, and reports the old generation growing by as much', async () => {
    const dir = tempDir('duet-heap-');
    mkdirSync(join(dir, 'server', 'rooms'), { recursive: true });
    mkdirSync(join(dir, 'server', 'realtime'), { recursive: true });
    // 'rooms' keeps what it makes; 'realtime' makes forty times as much, all of it garbage at once.
    // Each runs on its own timer, so neither is inlined into a common caller.
    const loop = (name: string, body: string) =>
      `let n = 0;\nexport const stop${name} = setInterval(() => {\n  for (let k = 0; k < ${name === 'Keep' ? 500 : 20000}; k++) ${body}\n}, 5);\n`;
    writeFileSync(join(dir, 'server', 'rooms', 'keep.ts'), `export const kept: object[] = [];\n${loop('Keep', 'kept.push({ n, s: `kept ${n++}` });')}`);
    writeFileSync(join(dir, 'server', 'realtime', 'churn.ts'), `export let sum = 0;\n${loop('Churn', 'sum += { n, s: `churn ${n++}` }.s.length;')}`);
    writeFileSync(
      join(dir, 'server', 'main.ts'),
      [
        "import { stopKeep } from './rooms/keep.js';",
        "import { stopChurn } from './realtime/churn.js';",
        "process.on('message', (m: { type?: string }) => { if (m?.type === 'stop') { clearInterval(stopKeep); clearInterval(stopChurn); } });",
        '',
      ].join('\n'),
    );
    const outfile = join(dir, 'dist', 'server', 'main.js');
    await build({ entryPoints: [join(dir, 'server', 'main.ts')], bundle: true, platform: 'node', format: 'esm', sourcemap: true, outfile, logLevel: 'silent' });
    const probe = join(dir, 'dist', 'probe.mjs');
    await build({ entryPoints: [new URL('../bench/node-probe.ts', import.meta.url).pathname], bundle: true, platform: 'node', format: 'esm', outfile: probe, logLevel: 'silent' });
    const samples = join(dir, 'samples');
    mkdirSync(samples);
    let oldGrowthMiB = 0;
    const child = fork(outfile, { execArgv: ['--expose-gc', '--initial-old-space-size=512', '--import', probe], env: { ...process.env, BENCH_HEAP_SAMPLE_DIR: samples }, stdio: 'ignore' });
    try {
      const ask = (m: object) =>
        new Promise<{ oldGrowthMiB: number }>((resolve) => {
          child.once('message', resolve);
          child.send({ type: 'probe', ...m });
        });
      // Kept before the window: counted by neither the profile nor the old generation's growth.
      // (The old generation starts large, so no full collection of V8's own falls in the window:
      // one would count the young churn it frees, as in the benchmark.)
      await new Promise((r) => setTimeout(r, 2500));
      await ask({ reset: true });
      await new Promise((r) => setTimeout(r, 1500));
      // With forced collections, as the benchmark asks once a trial is over: they must not
      // reach the profile or the growth.
      ({ oldGrowthMiB } = await ask({ gc: true }));
    } finally {
      child.send({ type: 'stop' });
      child.kill();
    }
    const [file] = readdirSync(samples);
    const s = summarizeHeapProfile(join(samples, file!));
    const bytes = (area: string) => s.byArea.find(([name]) => name === area)?.[1] ?? 0;
    // Forty times as many churned objects as kept ones, yet the kept ones dominate what survived:
    // the probe stops the profile before its forced full collections, which would count the young
    // churn (with them first, this fails).
    expect(bytes('duet:server/rooms')).toBeGreaterThan(3 * bytes('duet:server/realtime'));
    expect(s.byOwnCaller[0]![0]).toMatch(/^duet:server\/rooms: \(anonymous\) server\/rooms\/keep\.ts:\d$/);
    // The old generation grew by about what was kept, counted without the profiler's help.
    expect(oldGrowthMiB * 1048576).toBeGreaterThan(bytes('duet:server/rooms') / 2);
    expect(oldGrowthMiB * 1048576).toBeLessThan(bytes('duet:server/rooms') * 2);
  });
});
