import { isRunPath } from '../../shared/run-paths.js';

/** What a file path in `main`'s `files` map may look like: what a run can hold (the runner's rule). */
export function fileNameProblem(name: string, existing: Iterable<string>, current?: string): string | undefined {
  if (name.length === 0) return 'A file needs a name.';
  if (name.length > 120) return 'That name is too long.';
  if (!isRunPath(name)) {
    return 'Use letters, digits, dots, dashes, underscores and plus signs, with slashes between folders (no spaces, no "." or ".." folders).';
  }
  for (const other of existing) if (other === name && other !== current) return `${name} already exists.`;
  return undefined;
}

/** A free name like `untitled-2.py`, with the extension of the interview's language. */
export function freshFileName(existing: Set<string>, extension: string): string {
  for (let i = 1; ; i++) {
    const name = `untitled${i === 1 ? '' : `-${i}`}${extension}`;
    if (!existing.has(name)) return name;
  }
}
