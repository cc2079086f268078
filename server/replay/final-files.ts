/**
 * An interview's final files (GET /document, files.zip) as the durable log
 * holds them: the latest snapshot of `main` plus the log's tail.
 *
 * Built from scratch, a long document took 10-75 ms of the node's event loop
 * per call, and a reviewer's token may call 1,200 times a minute: one script
 * polling a large interview could keep a node busy. So each node keeps the
 * Y.Doc of the last few interviews asked about, and a call reads only the
 * log past what that copy has (usually nothing, always one query) and
 * rebuilds the files only when something was added.
 */
import * as Y from 'yjs';
import { applyUpdateCut } from '../../shared/yjs-overlap.js';
import { filesOf } from '../rooms/yjs-checks.js';
import type { Store } from '../store/store.js';

export interface FinalFilesLimits {
  /** Interviews kept at once, least recently asked about dropped first. */
  maxEntries: number;
  /** Characters of files kept in all (one document may hold LIMITS.docChars); a larger one is built and not kept. */
  maxChars: number;
  /** A copy no one asked about for this long is dropped. */
  idleMs: number;
}

const DEFAULT_LIMITS: FinalFilesLimits = { maxEntries: 8, maxChars: 2_000_000, idleMs: 5 * 60_000 };
const PAGE = 5000;

interface Entry {
  interviewId: string;
  ydoc: Y.Doc;
  /** The log is applied up to here. */
  seq: number;
  /** filesOf(ydoc) until the next event is applied. */
  files?: Readonly<Record<string, string>>;
  chars: number;
  /** Calls on one interview run one after another: each reads what was committed before it began. */
  queue: Promise<unknown>;
  idle?: NodeJS.Timeout;
}

export class FinalFiles {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly limits: FinalFilesLimits = DEFAULT_LIMITS,
  ) {}

  /** The files, read from the log no earlier than this call. */
  of(interviewId: string): Promise<Readonly<Record<string, string>>> {
    let entry = this.entries.get(interviewId);
    if (!entry) {
      entry = { interviewId, ydoc: new Y.Doc(), seq: -1, chars: 0, queue: Promise.resolve() };
      this.entries.set(interviewId, entry);
    } else {
      // Most recently asked about last: Map keeps insertion order.
      this.entries.delete(interviewId);
      this.entries.set(interviewId, entry);
    }
    const current = entry;
    const result = current.queue.then(() => this.refresh(current));
    current.queue = result.catch(() => {});
    return result.finally(() => this.keepOrDrop(interviewId, current));
  }

  /** Drops every copy (the node is closing). */
  close(): void {
    this.closed = true;
    for (const id of [...this.entries.keys()]) this.drop(id);
  }

  private async refresh(entry: Entry): Promise<Readonly<Record<string, string>>> {
    if (entry.seq < 0) {
      const snapshot = await this.store.latestSnapshot(entry.interviewId, 'main');
      if (snapshot) Y.applyUpdate(entry.ydoc, snapshot.state);
      entry.seq = snapshot?.seq ?? 0;
    }
    for (;;) {
      const events = await this.store.readEvents(entry.interviewId, { after: entry.seq, type: 'doc', doc: 'main', limit: PAGE });
      for (const e of events) if (e.bin) applyUpdateCut(entry.ydoc, e.bin);
      if (events.length > 0) {
        entry.seq = events[events.length - 1]!.seq;
        entry.files = undefined;
      }
      if (events.length < PAGE) break;
    }
    if (!entry.files) {
      entry.files = Object.freeze(filesOf(entry.ydoc));
      entry.chars = Object.values(entry.files).reduce((n, text) => n + text.length, 0);
    }
    return entry.files;
  }

  /** After a call: keep the copy for the next (within the limits), or let it go. */
  private keepOrDrop(interviewId: string, entry: Entry): void {
    if (this.entries.get(interviewId) !== entry) return;
    if (this.closed || entry.chars > this.limits.maxChars) {
      this.drop(interviewId);
      return;
    }
    clearTimeout(entry.idle);
    entry.idle = setTimeout(() => this.drop(interviewId), this.limits.idleMs).unref();
    let chars = 0;
    for (const e of this.entries.values()) chars += e.chars;
    for (const [id, oldest] of this.entries) {
      if (this.entries.size <= this.limits.maxEntries && chars <= this.limits.maxChars) break;
      if (id === interviewId) break;
      chars -= oldest.chars;
      this.drop(id);
    }
  }

  private drop(interviewId: string): void {
    const entry = this.entries.get(interviewId);
    if (!entry) return;
    this.entries.delete(interviewId);
    clearTimeout(entry.idle);
    // A call still under way keeps its copy until it is done with it.
    void entry.queue.then(() => entry.ydoc.destroy());
  }
}
