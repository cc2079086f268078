/**
 * Bundles the node into dist/server/main.js, what `npm start` runs: the
 * server's own code (server/, shared/) in one file, packages left in
 * node_modules and imported as they are (docs/deploy.md, "The node's
 * program"). The new bundle replaces the old one by a rename, so a node
 * starting meanwhile (a test, a cluster re-forking a worker) never loads a
 * half-written file.
 *
 *   tsx server/build.ts             bundle now (npm run build:server)
 *   tsx server/build.ts --if-stale  only when older than its sources
 *   ... --client                    then the browser client too, when stale (npm start's
 *                                   prestart: one process for both, ~0.65 s less than two here)
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { ensureClientBuiltOrExit, isUnwritable, newestMtime } from '../client/scripts/ensure-built.js';

const ROOT = join(import.meta.dirname, '..');
export const SERVER_BUNDLE = join(ROOT, 'dist', 'server', 'main.js');
const SOURCES = [join(ROOT, 'server'), join(ROOT, 'shared'), join(ROOT, 'package-lock.json'), join(ROOT, 'tsconfig.json')];

/** The bundle exists and nothing it is built from changed since. */
export function serverBundleIsFresh(): boolean {
  if (!existsSync(SERVER_BUNDLE)) return false;
  const built = statSync(SERVER_BUNDLE).mtimeMs;
  return SOURCES.every((s) => newestMtime(s) <= built);
}

export async function bundleServer(): Promise<void> {
  // The bundle is dated from the moment the sources were read, so a source
  // saved during the build leaves it stale for --if-stale.
  const readAt = new Date();
  const result = await build({
    entryPoints: [join(ROOT, 'server', 'main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    // Not minified, so a stack trace's lines are readable in the bundle itself;
    // the map is for NODE_OPTIONS=--enable-source-maps (off by default: ~5 MB of heap).
    sourcemap: true,
    outfile: SERVER_BUNDLE,
    write: false,
    logLevel: 'warning',
  });
  mkdirSync(dirname(SERVER_BUNDLE), { recursive: true });
  // The map first: a node that loads the new bundle finds its map in place.
  const files = [...result.outputFiles].sort((a, b) => Number(b.path.endsWith('.map')) - Number(a.path.endsWith('.map')));
  for (const file of files) {
    const temp = join(dirname(file.path), `.${basename(file.path)}.${process.pid}.tmp`);
    try {
      writeFileSync(temp, file.contents);
      utimesSync(temp, readAt, readAt);
      renameSync(temp, file.path);
    } catch (err) {
      rmSync(temp, { force: true });
      throw err;
    }
  }
}

async function main(ifStale: boolean): Promise<void> {
  // Fresh too where the sources are missing (an install shipping dist/ alone): nothing to rebuild from.
  if (ifStale && serverBundleIsFresh()) {
    console.log('server: dist/server/main.js is up to date');
    return;
  }
  const started = Date.now();
  try {
    await bundleServer();
    console.log(`server: bundled dist/server/main.js in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (err) {
    // A read-only install keeps the bundle it has.
    if (ifStale && isUnwritable(err) && existsSync(SERVER_BUNDLE)) {
      console.warn(`server: cannot rewrite dist/server (${(err as NodeJS.ErrnoException).code}); running the bundle already there`);
      return;
    }
    console.error('server: bundling failed:', err);
    process.exit(1);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.includes('--if-stale'))
    .then(() => (process.argv.includes('--client') ? ensureClientBuiltOrExit() : undefined))
    .catch((err: unknown) => {
      console.error('build failed:', err);
      process.exit(1);
    });
}
