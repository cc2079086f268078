/**
 * The file the interview starts with follows its language (main.py becomes
 * main.js): the page whose change it was renames it, as an edit of its own, so
 * it reaches everyone and the replay like any other.
 *
 * Two changes at once from two pages (python to JavaScript, then JavaScript to
 * Go, in the node's order) are two links of one chain: the first page renames
 * main.py to main.js, the second main.js to main.go. Each renames from the
 * language its own change replaced, told by the copies of the interview it
 * has seen (each carries the event-log seq it was read at), not by what it
 * shows now; and the second waits for main.js, since its answer can come
 * before the first page's rename reaches it. So the room ends with one file,
 * named for the language it ends on. The same holds for one page's changes in
 * a row: each waits for the file the one before renames to.
 */
import type * as Y from 'yjs';
import type { Language } from '../../shared/languages.js';

/** How long a page waits for the file a change before its own is renaming to. */
export const RENAME_WAIT_MS = 5000;

/** Copies seen, kept: enough to look back past the changes one person makes in a row. */
const KEPT = 64;

/** The language at each seq this page has seen a copy of the interview at. */
export class LanguageHistory {
  private readonly seen: { seq: number; language: Language }[] = [];

  /**
   * Every copy that arrives, taken or not (an older one still tells what the
   * language was then). A copy from a node before `seq` (shared/interview-copies.ts) tells nothing.
   */
  record(copy: { seq?: number | undefined; language: Language }): void {
    if (copy.seq === undefined) return;
    this.seen.push({ seq: copy.seq, language: copy.language });
    if (this.seen.length > KEPT) this.seen.shift();
  }

  /** The language just before the change that made `copy` (the newest seen copy older than it). */
  before(copy: { seq?: number | undefined }): Language | undefined {
    const at = copy.seq;
    if (at === undefined) return undefined;
    let best: { seq: number; language: Language } | undefined;
    for (const entry of this.seen) if (entry.seq < at && (!best || entry.seq > best.seq)) best = entry;
    return best?.language;
  }
}

/**
 * Renames `from` to `to` with `rename` once `from` is in `files` (at once if it
 * is), unless `to` is there by then; gives up after `waitMs`, or when `signal`
 * aborts (the page is left). Resolves whether it renamed.
 */
export function renameOnceThere(
  files: Y.Map<Y.Text>,
  rename: (from: string, to: string) => boolean,
  from: string,
  to: string,
  options: { waitMs?: number; signal?: AbortSignal } = {},
): Promise<boolean> {
  const { waitMs = RENAME_WAIT_MS, signal } = options;
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let settled = false;
    let observing = false;
    const finish = (renamed: boolean): true => {
      settled = true;
      clearTimeout(timer);
      if (observing) files.unobserve(onChange);
      signal?.removeEventListener('abort', abandon);
      resolve(renamed);
      return true;
    };
    const abandon = () => void finish(false);
    // True once settled. `to` is looked at only once `from` is there: in a chain that comes back
    // (Go to JavaScript to Go), main.go is still there until the rename to main.js arrives.
    const attempt = (): boolean => {
      if (!files.has(from)) return false;
      return finish(!files.has(to) && rename(from, to));
    };
    // After the transaction, not inside its observers: the editor is still following that one.
    const onChange = () => queueMicrotask(() => void (settled || attempt()));
    if (signal?.aborted) return void finish(false);
    if (attempt()) return;
    files.observe(onChange);
    observing = true;
    signal?.addEventListener('abort', abandon);
    timer = setTimeout(abandon, waitMs);
  });
}
