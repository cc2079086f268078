/**
 * Authorship across renames. A Y.Text cannot move between keys of a Y.Map, so
 * a rename copies the file's text into a new Y.Text under the new name: every
 * character of the copy has the renamer's Yjs client id. Read naively, the
 * whole file would become the renamer's. The replay records, at each rename,
 * which characters of the copy stand for which characters of the original,
 * and credits each to whoever wrote the original (through any chain of renames).
 */
import * as Y from 'yjs';
import { idsOf, sharedRuns } from '../text-align.js';

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
 * (text-align.ts), not required equal: each character the copy shares with
 * the old file stands for that one; the rest is the renamer's.
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
  for (const run of sharedRuns(old.text, copy.text)) map(run.bAt, run.aAt, run.length);
  return copies;
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
