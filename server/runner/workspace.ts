/**
 * The files a run gets: the interview's `main` document, checked path by path,
 * with TypeScript turned into JavaScript on the node first.
 *
 * Why transpile here and not in the sandbox: esbuild is a native binary inside
 * the project's node_modules, which the sandbox must not see; its transform
 * only parses and prints untrusted text (it never executes it, nor reads other
 * files), takes milliseconds, and its input is bounded by the document limit.
 */
import { posix } from 'node:path';
import { runPathSchema } from '../../shared/schemas.js';
import type { LanguageRow } from './config.js';

/** More files than an interview ever needs; each one is an fd and a bwrap argument. */
export const MAX_FILES = 200;

export interface WorkFile {
  path: string;
  content: Buffer;
}

export interface Workspace {
  files: WorkFile[];
  /** The file the run command gets as {file}. */
  entry: string;
}

/** Transpile errors are the program's failure, shown like a compiler's output. */
export class BuildFailure extends Error {
  override name = 'BuildFailure';
}

const TS_EXT: Record<string, string> = { '.ts': '.js', '.mts': '.mjs', '.cts': '.cjs', '.tsx': '.js' };
/** What Node runs as it is, TypeScript or not. */
const JS_EXT = new Set(['.js', '.mjs', '.cjs', '.json']);

/**
 * Where a TypeScript file's JavaScript goes, or undefined for a file run as it
 * is. The entry is the interview's language whatever its name: an interview
 * switched to TypeScript can keep a `main.py` (the page renames only the
 * starting file, and only under its starting name), and its code must run as
 * TypeScript, not fail as JavaScript.
 */
function compiledPath(path: string, entry: string): string | undefined {
  const ext = posix.extname(path);
  if (path.endsWith('.d.ts')) return undefined;
  if (TS_EXT[ext] !== undefined) return path.slice(0, -ext.length) + TS_EXT[ext];
  return path === entry && !JS_EXT.has(ext) ? `${path}.js` : undefined;
}

export function isRunnablePath(path: string): boolean {
  return runPathSchema.safeParse(path).success;
}

export async function prepareWorkspace(files: Record<string, string>, entry: string, row: LanguageRow): Promise<Workspace> {
  // Paths a client wrote into the document that the sandbox could not hold are left out.
  const paths = Object.keys(files).filter(isRunnablePath).sort().slice(0, MAX_FILES);
  if (!paths.includes(entry)) paths.push(entry);
  if (row.transpile !== 'typescript') {
    return { files: paths.map((path) => ({ path, content: Buffer.from(files[path] ?? '', 'utf8') })), entry };
  }
  // Loaded on the first TypeScript run, not at start-up.
  const { transform } = await import('esbuild');
  const raw: WorkFile[] = [];
  const built: WorkFile[] = [];
  const errors: string[] = [];
  for (const path of paths) {
    const jsPath = compiledPath(path, entry);
    if (jsPath === undefined) {
      raw.push({ path, content: Buffer.from(files[path] ?? '', 'utf8') });
      continue;
    }
    try {
      const result = await transform(files[path] ?? '', {
        loader: posix.extname(path) === '.tsx' ? 'tsx' : 'ts',
        target: 'node20',
        sourcefile: path,
        // Stack traces point at the TypeScript lines (node --enable-source-maps).
        sourcemap: 'inline',
      });
      built.push({ path: jsPath, content: Buffer.from(result.code, 'utf8') });
    } catch (err) {
      const failures = (err as { errors?: Array<{ text: string; location: { file: string; line: number; column: number; lineText: string } | null }> }).errors;
      if (!failures) throw err;
      for (const f of failures) {
        const at = f.location ? `${f.location.file}:${f.location.line}:${f.location.column + 1}: ` : '';
        errors.push(`${at}error: ${f.text}${f.location ? `\n    ${f.location.lineText}` : ''}`);
      }
    }
  }
  if (errors.length > 0) throw new BuildFailure(errors.join('\n') + '\n');
  // A transpiled file and a file of its name (`a.ts` and `a.js`, an entry `main` and `main.js`): the transpiled one wins.
  const byPath = new Map([...raw, ...built].map((f) => [f.path, f]));
  return { files: [...byPath.values()], entry: compiledPath(entry, entry) ?? entry };
}
