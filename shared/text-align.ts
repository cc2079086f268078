/**
 * Two versions of a text lined up character by character: a Y.Text read with
 * each character's Yjs id, and the runs two texts share. A rename copies a
 * file into a new Y.Text (DESIGN: `files` maps a path to a Y.Text), so the
 * replay's authorship (replay/copies.ts) and a page's own edits that the copy
 * missed (rename-rescue.ts) both need to know which character of the copy
 * stands for which of the original.
 */
import { diffChars } from 'diff';
import type * as Y from 'yjs';

/**
 * The diff's work is about (old + new length) × edits: past this budget two
 * texts are aligned by their common start and end only. A budget, not a
 * timeout: every viewer, on any machine, aligns them the same way.
 */
const ALIGN_WORK = 20_000_000;
const ALIGN_MAX_EDITS = 2000;

export interface TextIds {
  text: string;
  clients: number[];
  clocks: number[];
}

/** A text's characters, with each one's Yjs id, over the items `keep` accepts. */
export function idsOf(text: Y.Text, keep: (item: Y.Item) => boolean): TextIds {
  let s = '';
  const clients: number[] = [];
  const clocks: number[] = [];
  for (let item = text._start; item !== null; item = item.right) {
    if (!item.countable || !keep(item)) continue;
    // An embed counts one, as in the text's length; it matches nothing typed.
    const str = (item.content as { str?: unknown }).str;
    s += typeof str === 'string' ? str : '\ufffc'.repeat(item.length);
    for (let i = 0; i < item.length; i++) {
      clients.push(item.id.client);
      clocks.push(item.id.clock + i);
    }
  }
  return { text: s, clients, clocks };
}

/** A run of characters two texts share: `a.slice(aAt, aAt + length)` is `b.slice(bAt, bAt + length)`. */
export interface SharedRun {
  aAt: number;
  bAt: number;
  length: number;
}

/**
 * The runs `a` and `b` have in common, in order: jsdiff's character diff
 * (Myers'), or past its budget (ALIGN_WORK) their common start and end.
 */
export function sharedRuns(a: string, b: string): SharedRun[] {
  const maxEditLength = Math.min(ALIGN_MAX_EDITS, Math.floor(ALIGN_WORK / Math.max(1, a.length + b.length)));
  const changes = diffChars(a, b, { maxEditLength });
  const runs: SharedRun[] = [];
  if (changes) {
    let aAt = 0;
    let bAt = 0;
    for (const c of changes) {
      const length = c.value.length;
      if (c.added) bAt += length;
      else if (c.removed) aAt += length;
      else {
        runs.push({ aAt, bAt, length });
        aAt += length;
        bAt += length;
      }
    }
    return runs;
  }
  const m = a.length;
  const n = b.length;
  let head = 0;
  while (head < n && head < m && b[head] === a[head]) head++;
  let tail = 0;
  while (tail < n - head && tail < m - head && b[n - 1 - tail] === a[m - 1 - tail]) tail++;
  if (head > 0) runs.push({ aAt: 0, bAt: 0, length: head });
  if (tail > 0) runs.push({ aAt: m - tail, bAt: n - tail, length: tail });
  return runs;
}
