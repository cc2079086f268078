/**
 * Builds the browser client into dist/client when it is missing or older
 * than its sources (client/, shared/, the lockfile). `npm start` runs it
 * first (prestart) and the browser tests call it, so a fresh clone serves a
 * working client with no extra step, and an up-to-date build costs a stat walk.
 *
 *   tsx client/scripts/ensure-built.ts [--force]
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = join(import.meta.dirname, '..', '..');
export const CLIENT_DIST = join(ROOT, 'dist', 'client');
const SOURCES = [join(ROOT, 'client'), join(ROOT, 'shared'), join(ROOT, 'package-lock.json')];
const LOCK = join(ROOT, 'dist', '.client-build.lock');

/** The newest modification time in a file or folder tree (node_modules and dot-folders left out). */
export function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules' || entry.startsWith('.')) continue;
    newest = Math.max(newest, newestMtime(join(path, entry)));
  }
  return newest;
}

export function clientIsFresh(): boolean {
  const index = join(CLIENT_DIST, 'index.html');
  if (!existsSync(index)) return false;
  const built = statSync(index).mtimeMs;
  return SOURCES.every((s) => newestMtime(s) <= built);
}

/** Builds unless fresh; concurrent callers (parallel test files) wait for one build. */
export async function ensureClientBuilt(options: { force?: boolean; quiet?: boolean } = {}): Promise<'fresh' | 'built'> {
  if (!options.force && clientIsFresh()) return 'fresh';
  // A deployment that ships dist/ without the sources (the Docker image) has nothing to rebuild from.
  if (!existsSync(join(ROOT, 'client', 'index.html'))) {
    if (existsSync(join(CLIENT_DIST, 'index.html'))) return 'fresh';
    throw new Error('neither dist/client nor the client sources are here');
  }
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (err) {
      // Not "someone else is building" (dist/ read-only, say): nothing to wait for.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Someone else is building; a lock older than two minutes is a crashed build.
      if (existsSync(LOCK) && Date.now() - statSync(LOCK).mtimeMs > 120_000) rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error('timed out waiting for another client build');
      await new Promise((r) => setTimeout(r, 200));
      if (!options.force && clientIsFresh()) return 'fresh';
    }
  }
  try {
    if (!options.force && clientIsFresh()) return 'fresh';
    const { build } = await import('vite');
    await build({ configFile: join(ROOT, 'client', 'vite.config.ts'), logLevel: options.quiet ? 'warn' : 'info' });
    return 'built';
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** The error of a write to a dist/ this user may not change (an install built once, owned by another user). */
export function isUnwritable(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EACCES' || code === 'EROFS' || code === 'EPERM';
}

/** Builds when stale, saying what it did; a failed build exits the process. For command lines. */
export async function ensureClientBuiltOrExit(force = false): Promise<void> {
  const started = Date.now();
  try {
    const result = await ensureClientBuilt({ force });
    if (result === 'fresh') console.log('client: dist/client is up to date');
    else console.log(`client: built dist/client in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (err) {
    // A read-only install serves the client it has.
    if (isUnwritable(err) && existsSync(join(CLIENT_DIST, 'index.html'))) {
      console.warn(`client: cannot rewrite dist/client (${(err as NodeJS.ErrnoException).code}); serving the build already there`);
      return;
    }
    console.error('client: build failed:', err);
    process.exit(1);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void ensureClientBuiltOrExit(process.argv.includes('--force'));
