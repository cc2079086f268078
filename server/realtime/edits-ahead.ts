/**
 * A socket's edits of one document that passed the checks and are queued for
 * the log, not yet applied to the room's document. A keystroke builds on the
 * one before it, so checked against the document alone each edit had to wait
 * for the previous one's commit: a room's edits were a chain of commit round
 * trips, and once a round trip took longer than the typist's pace (150-260 ms
 * on a saturated node) the chain fell behind and its queue grew for as long
 * as the load lasted. Checked on top of these, the next edits queue behind
 * them in the log writer and commit together, each still its own event.
 */
import * as Y from 'yjs';
import type { Chain } from '../rooms/event-writer.js';

/** Past this many the next edit waits for them: a bound on what one failed commit fails with it. */
export const MAX_EDITS_AHEAD = 64;

interface Entry {
  update: Uint8Array;
  chars: number;
}

export class EditsAhead {
  private entries: Entry[] = [];
  private queuedEnds = new Map<number, number>();
  private waiters: Array<() => void> = [];
  /** Broken when one of them is not stored: those after it fail too (EventWriter). */
  chain: Chain = { broken: false };

  /** Per client, the clock after its last struct queued here. */
  get ends(): ReadonlyMap<number, number> {
    return this.queuedEnds;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Characters the queued edits may insert. */
  get chars(): number {
    return this.entries.reduce((a, e) => a + e.chars, 0);
  }

  /** Where `client`'s next struct starts, counting the queued edits. */
  endOf(client: number, ydoc: Y.Doc): number {
    return Math.max(this.queuedEnds.get(client) ?? 0, Y.getState(ydoc.store, client));
  }

  add(update: Uint8Array, ranges: Map<number, { first: number; end: number }>, chars: number): Entry {
    const entry = { update, chars };
    this.entries.push(entry);
    for (const [client, r] of ranges) this.queuedEnds.set(client, Math.max(r.end, this.queuedEnds.get(client) ?? 0));
    return entry;
  }

  /** Applied, or not stored: it leaves. */
  remove(entry: Entry): void {
    const i = this.entries.indexOf(entry);
    if (i !== -1) this.entries.splice(i, 1);
    if (this.entries.length > 0) return;
    this.queuedEnds = new Map();
    this.chain = { broken: false };
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once every queued edit is applied or has failed. */
  drained(): Promise<void> {
    if (this.entries.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
