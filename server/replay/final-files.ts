/**
 * An interview's final files (GET /document, files.zip) as the durable log
 * holds them: the latest snapshot of `main` plus the log's tail.
 *
 * Built from scratch, a long document took 10-75 ms of the node's event loop
 * per call (hundreds of ms for a long tail with no snapshot), and a token may
 * call 1,200 times a minute: one script polling a large interview could keep
 * a node busy. So each node keeps the Y.Doc of the last few interviews asked
 * about, and a call reads only the log past what that copy has (usually
 * nothing, always one query) and rebuilds the files only when something was
 * added.
 */
import * as Y from 'yjs';
import { applyUpdateCut } from '../../shared/yjs-overlap.js';
import { filesOf } from '../rooms/yjs-checks.js';
import type { Store } from '../store/store.js';

export interface FinalFilesLimits {
  /** Interviews kept at once, least recently asked about dropped first. */
  maxEntries: number;
  /**
   * Bytes of Yjs updates applied to the copies kept, in all: what their
   * memory grows with (a document's history, not only its text). A document
   * over it is built and not kept.
   */
  maxBytes: number;
  /** A copy no one asked about for this long is dropped. */
  idleMs: number;
}

const DEFAULT_LIMITS: FinalFilesLimits = { maxEntries: 8, maxBytes: 16 * 1024 * 1024, idleMs: 5 * 60_000 };
const PAGE = 5000;

interface Entry {
  interviewId: string;
  ydoc: Y.Doc;
  /** The log is applied up to here (-1: nothing read yet). */
  seq: number;
  /** filesOf(ydoc) until the next event is applied. */
  files?: Readonly<Record<string, string>>;
  /** Bytes of the updates applied. */
  bytes: number;
  /** Calls on one interview run one after another: each reads what was committed before it began. */
  queue: Promise<unknown>;
  /** Calls not answered yet: such a copy is not dropped to make room (its last call decides). */
  calls: number;
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
      entry = { interviewId, ydoc: new Y.Doc(), seq: -1, bytes: 0, queue: Promise.resolve(), calls: 0 };
      this.entries.set(interviewId, entry);
    }
    const current = entry;
    clearTimeout(current.idle);
    current.calls++;
    const result = current.queue.then(() => this.refresh(current));
    current.queue = result.catch(() => {});
    return result.then(
      (files) => {
        current.calls--;
        this.keepOrDrop(current);
        return files;
      },
      (err: unknown) => {
        current.calls--;
        // Yjs may throw with an update part applied: the next call starts from scratch.
        this.drop(current);
        throw err;
      },
    );
  }

  /** Drops the copy of an interview that was deleted. */
  forget(interviewId: string): void {
    const entry = this.entries.get(interviewId);
    if (entry) this.drop(entry);
  }

  /** Drops every copy (the node is closing). */
  close(): void {
    this.closed = true;
    for (const entry of [...this.entries.values()]) this.drop(entry);
  }

  private async refresh(entry: Entry): Promise<Readonly<Record<string, string>>> {
    if (entry.seq < 0) {
      const snapshot = await this.store.latestSnapshot(entry.interviewId, 'main');
      if (snapshot) {
        Y.applyUpdate(entry.ydoc, snapshot.state);
        entry.bytes += snapshot.state.byteLength;
      }
      entry.seq = snapshot?.seq ?? 0;
    }
    for (;;) {
      const events = await this.store.readEvents(entry.interviewId, { after: entry.seq, type: 'doc', doc: 'main', limit: PAGE });
      for (const e of events) {
        if (!e.bin) continue;
        applyUpdateCut(entry.ydoc, e.bin);
        entry.bytes += e.bin.byteLength;
      }
      if (events.length > 0) {
        entry.seq = events[events.length - 1]!.seq;
        entry.files = undefined;
      }
      if (events.length < PAGE) break;
    }
    entry.files ??= Object.freeze(filesOf(entry.ydoc));
    return entry.files;
  }

  /** After a call: keep the copy for the next (within the limits), or let it go. */
  private keepOrDrop(entry: Entry): void {
    if (this.entries.get(entry.interviewId) !== entry || entry.calls > 0) return;
    if (this.closed || entry.bytes > this.limits.maxBytes) {
      this.drop(entry);
      return;
    }
    // Most recently used last (Map keeps insertion order); dropped from the front.
    this.entries.delete(entry.interviewId);
    this.entries.set(entry.interviewId, entry);
    clearTimeout(entry.idle);
    entry.idle = setTimeout(() => this.drop(entry), this.limits.idleMs).unref();
    let bytes = 0;
    for (const e of this.entries.values()) bytes += e.bytes;
    for (const oldest of [...this.entries.values()]) {
      if (this.entries.size <= this.limits.maxEntries && bytes <= this.limits.maxBytes) break;
      if (oldest === entry || oldest.calls > 0) continue;
      bytes -= oldest.bytes;
      this.drop(oldest);
    }
  }

  private drop(entry: Entry): void {
    clearTimeout(entry.idle);
    if (this.entries.get(entry.interviewId) !== entry) return;
    this.entries.delete(entry.interviewId);
    // A call still under way keeps its copy until it is done with it.
    void entry.queue.then(() => entry.ydoc.destroy());
  }
}
