/**
 * Authorship across renames. A Y.Text cannot move between keys of a Y.Map, so
 * a rename copies the file's text into a new Y.Text under the new name: every
 * character of the copy has the renamer's Yjs client id. Read naively, the
 * whole file would become the renamer's. The replay records, at each rename,
 * which characters of the copy stand for which characters of the original,
 * and credits each to whoever wrote the original (through any chain of renames).
 */
import * as Y from 'yjs';

/** Characters `[clock, clock + length)` of `client` are copies of `[fromClock, ...)` of `fromClient`. */
export interface Copy {
  client: number;
  clock: number;
  length: number;
  fromClient: number;
  fromClock: number;
}

interface Run {
  client: number;
  clock: number;
  length: number;
}

/**
 * The copies a rename made: `before` is the old file (deleted by `tr`), `after`
 * the new one (written by it). Empty unless the new text is exactly the old
 * one: a rename that also changed the text is not taken for a copy.
 */
export function copiesOfRename(before: Y.Text, after: Y.Text, tr: Y.Transaction): Copy[] {
  // What the old file showed just before the transaction: its characters not
  // deleted, or deleted by this transaction (observers run before Yjs drops
  // their content).
  const oldRuns: Run[] = [];
  let oldText = '';
  for (let item = before._start; item !== null; item = item.right) {
    if (!item.countable || (item.deleted && !Y.isDeleted(tr.deleteSet, item.id))) continue;
    oldRuns.push({ client: item.id.client, clock: item.id.clock, length: item.length });
    oldText += (item.content.getContent() as string[]).join('');
  }
  if (oldText !== after.toString()) return [];
  const newRuns: Run[] = [];
  for (let item = after._start; item !== null; item = item.right) {
    if (!item.deleted && item.countable) newRuns.push({ client: item.id.client, clock: item.id.clock, length: item.length });
  }
  const copies: Copy[] = [];
  let i = 0;
  let j = 0;
  let oi = 0;
  let nj = 0;
  while (i < oldRuns.length && j < newRuns.length) {
    const o = oldRuns[i]!;
    const n = newRuns[j]!;
    const length = Math.min(o.length - oi, n.length - nj);
    const last = copies[copies.length - 1];
    const copy = { client: n.client, clock: n.clock + nj, length, fromClient: o.client, fromClock: o.clock + oi };
    // Consecutive on both sides: one entry.
    if (last && last.client === copy.client && last.clock + last.length === copy.clock && last.fromClient === copy.fromClient && last.fromClock + last.length === copy.fromClock) {
      last.length += length;
    } else copies.push(copy);
    oi += length;
    nj += length;
    if (oi === o.length) {
      i++;
      oi = 0;
    }
    if (nj === n.length) {
      j++;
      nj = 0;
    }
  }
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
