/**
 * The benchmark's profile summary (bench/profile.ts) on a real V8 profile of
 * a bundled program: the README's "where a node's time goes" comes from it,
 * and a node runs Duet as one bundled file.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
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
