/**
 * Authorship across renames. A Y.Text cannot move between keys of a Y.Map, so
 * a rename copies the file's text into a new Y.Text under the new name: every
 * character of the copy has the renamer's Yjs client id. Read naively, the
 * whole file would become the renamer's. The replay records, at each rename,
 * which characters of the copy stand for which characters of the original,
 * and credits each to whoever wrote the original (through any chain of renames).
 */
import { diffChars } from 'diff';
import * as Y from 'yjs';

/**
 * The diff's work is about (old + new length) × edits: past this budget a
 * rename's texts are aligned by their common start and end only. A budget,
 * not a timeout: every viewer, on any machine, credits the same authors.
 */
const ALIGN_WORK = 20_000_000;
const ALIGN_MAX_EDITS = 2000;

/** Characters `[clock, clock + length)` of `client` are copies of `[fromClock, ...)` of `fromClient`. */
export interface Copy {
  client: number;
  clock: number;
  length: number;
  fromClient: number;
  fromClock: number;
}

/**
 * The copies a rename made: `before` is the old file (deleted by `tr`), `after`
 * the new one (written by it). The renamer copied the text as their page had
 * it, which can differ from the log's: someone typing at that moment, or
 * edits sent together after a time offline. So the two texts are aligned
 * (jsdiff's character diff, Myers'), not required equal: each character the
 * copy shares with the old file stands for that one; the rest is the
 * renamer's. A diff past its budget (ALIGN_WORK) falls back to the common
 * start and end.
 */
export function copiesOfRename(before: Y.Text, after: Y.Text, tr: Y.Transaction): Copy[] {
  // What the old file showed just before the transaction: its characters not
  // deleted, or deleted by this transaction (observers run before Yjs drops
  // their content).
  const old = idsOf(before, (item) => !item.deleted || Y.isDeleted(tr.deleteSet, item.id));
  const copy = idsOf(after, (item) => !item.deleted);
  const copies: Copy[] = [];
  const map = (i: number, k: number, length: number) => {
    for (let d = 0; d < length; d++) {
      const entry = { client: copy.clients[i + d]!, clock: copy.clocks[i + d]!, length: 1, fromClient: old.clients[k + d]!, fromClock: old.clocks[k + d]! };
      const last = copies[copies.length - 1];
      // Consecutive on both sides: one entry.
      if (last && last.client === entry.client && last.clock + last.length === entry.clock && last.fromClient === entry.fromClient && last.fromClock + last.length === entry.fromClock) {
        last.length++;
      } else copies.push(entry);
    }
  };
  const maxEditLength = Math.min(ALIGN_MAX_EDITS, Math.floor(ALIGN_WORK / Math.max(1, old.text.length + copy.text.length)));
  const changes = diffChars(old.text, copy.text, { maxEditLength });
  if (changes) {
    let k = 0;
    let i = 0;
    for (const c of changes) {
      const length = c.value.length;
      if (c.added) i += length;
      else if (c.removed) k += length;
      else {
        map(i, k, length);
        i += length;
        k += length;
      }
    }
    return copies;
  }
  const m = old.text.length;
  const n = copy.text.length;
  let head = 0;
  while (head < n && head < m && copy.text[head] === old.text[head]) head++;
  let tail = 0;
  while (tail < n - head && tail < m - head && copy.text[n - 1 - tail] === old.text[m - 1 - tail]) tail++;
  map(0, 0, head);
  map(n - tail, m - tail, tail);
  return copies;
}

/** A text's characters, with each one's Yjs id, over the items `keep` accepts. */
function idsOf(text: Y.Text, keep: (item: Y.Item) => boolean): { text: string; clients: number[]; clocks: number[] } {
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

/** Looks up, per client, the copies covering a range of its clocks. */
export class CopyIndex {
  private readonly byClient = new Map<number, Copy[]>();

  constructor(copies: readonly Copy[]) {
    for (const c of copies) {
      const list = this.byClient.get(c.client);
      if (list) list.push(c);
      else this.byClient.set(c.client, [c]);
    }
    for (const list of this.byClient.values()) list.sort((a, b) => a.clock - b.clock);
  }

  /**
   * The original Yjs client of each part of `[clock, clock + length)` of
   * `client`, in order, as `[length, client]` pairs: through every rename
   * back to the character as first typed.
   */
  origins(client: number, clock: number, length: number, out: Array<[number, number]> = []): Array<[number, number]> {
    const list = this.byClient.get(client);
    let at = clock;
    const end = clock + length;
    if (list) {
      for (const c of list) {
        if (c.clock + c.length <= at) continue;
        if (c.clock >= end) break;
        if (c.clock > at) {
          push(out, c.clock - at, client);
          at = c.clock;
        }
        const upTo = Math.min(end, c.clock + c.length);
        this.origins(c.fromClient, c.fromClock + (at - c.clock), upTo - at, out);
        at = upTo;
      }
    }
    if (at < end) push(out, end - at, client);
    return out;
  }
}

function push(out: Array<[number, number]>, length: number, client: number): void {
  const last = out[out.length - 1];
  if (last && last[1] === client) last[0] += length;
  else out.push([length, client]);
}
