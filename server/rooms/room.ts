/**
 * One interview's live state on this node: its two Yjs documents and their
 * awareness. The documents are a cache of the event log: loaded from the
 * latest snapshot plus the log's tail, fed with this node's own commits, and
 * caught up from the log before answering a sync, so a joiner always gets
 * every committed edit, whichever node committed it.
 */
import * as Y from 'yjs';
import { Awareness, removeAwarenessStates } from 'y-protocols/awareness';
import type { Interview } from '../../shared/protocol.js';
import { DOC_NAMES, type DocName } from '../../shared/roles.js';
import type { Store, StoredEvent } from '../store/store.js';

export interface DocState {
  ydoc: Y.Doc;
  awareness: Awareness;
  /** Seq of the newest snapshot of this document. */
  snapshotSeq: number;
  /** Committed updates applied since the last snapshot. */
  sinceSnapshot: number;
}

export class Room {
  readonly docs: Record<DocName, DocState>;
  /** Every event with seq <= this has been applied to the documents. */
  private appliedSeq = 0;
  /**
   * The newest of this node's commits applied out of order: events other
   * nodes (or this node's chat, joins...) committed in between are not applied
   * yet, so appliedSeq cannot move past them until the log is read.
   */
  private aheadSeq = 0;
  private catchingUp: Promise<void> | null = null;
  /** A snapshot is due but waits for the log to be read (it must be exact). */
  private snapshotWaiting = false;
  sockets = 0;
  unloadTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly id: string,
    public interview: Interview,
    private readonly store: Store,
  ) {
    const make = (): DocState => {
      const ydoc = new Y.Doc({ gc: true });
      const awareness = new Awareness(ydoc);
      // The server has no cursor of its own.
      awareness.setLocalState(null);
      return { ydoc, awareness, snapshotSeq: 0, sinceSnapshot: 0 };
    };
    this.docs = { main: make(), notes: make() };
  }

  static async load(store: Store, interview: Interview): Promise<Room> {
    const room = new Room(interview.id, interview, store);
    const snapshots = await Promise.all(DOC_NAMES.map((d) => store.latestSnapshot(interview.id, d)));
    let from = Infinity;
    DOC_NAMES.forEach((d, i) => {
      const snap = snapshots[i];
      const state = room.docs[d];
      if (snap) {
        Y.applyUpdate(state.ydoc, snap.state);
        state.snapshotSeq = snap.seq;
      }
      from = Math.min(from, state.snapshotSeq);
    });
    room.appliedSeq = from;
    await room.readTail();
    return room;
  }

  /** Brings the documents up to every event committed so far, by any node. */
  catchUp(): Promise<void> {
    // Concurrent joiners share one read.
    this.catchingUp ??= this.readTail().finally(() => {
      this.catchingUp = null;
    });
    return this.catchingUp;
  }

  private get gap(): boolean {
    return this.aheadSeq > this.appliedSeq;
  }

  private async readTail(): Promise<void> {
    // An own commit applied ahead is durable, so a read that started before it
    // committed misses it but the next one finds it; a few reads at most.
    for (let reads = 0; reads === 0 || (this.gap && reads < 3); reads++) await this.readTailOnce();
  }

  private async readTailOnce(): Promise<void> {
    for (;;) {
      const events = await this.store.readEvents(this.id, { after: this.appliedSeq, limit: 5000 });
      // One Yjs transaction per document for the whole page: 250 logged updates
      // of a 40k-character document took 7-24 ms one transaction each, 1-2 ms so.
      this.docs.main.ydoc.transact(() => this.docs.notes.ydoc.transact(() => {
        for (const e of events) this.applyEvent(e, true);
      }, 'log'), 'log');
      if (events.length < 5000) break;
    }
  }

  /** Applies an event this node just committed. */
  applyCommitted(event: StoredEvent): void {
    this.applyEvent(event, false);
  }

  private applyEvent(event: StoredEvent, fromLog: boolean): void {
    if (event.type === 'doc' && event.doc && event.bin) {
      const state = this.docs[event.doc];
      if (!fromLog || event.seq > state.snapshotSeq) {
        Y.applyUpdate(state.ydoc, event.bin, 'log');
        state.sinceSnapshot++;
      }
    }
    if (event.seq === this.appliedSeq + 1 || fromLog) {
      this.appliedSeq = Math.max(this.appliedSeq, event.seq);
    } else if (event.seq > this.appliedSeq) {
      this.aheadSeq = Math.max(this.aheadSeq, event.seq);
    }
  }

  /**
   * A snapshot is only exact when the document holds precisely the events up
   * to appliedSeq. After a gap (anything committed in between that this node
   * did not apply: another node's edits, this node's chat or joins) it may
   * hold later ones too, so read the log first: without that, a room with
   * writers on two nodes, or with chat, would stop snapshotting and every
   * cold load would read its whole log.
   */
  snapshotIfDue(doc: DocName, every: number, at: string): Promise<void> | undefined {
    if (this.docs[doc].sinceSnapshot < every || this.snapshotWaiting) return undefined;
    if (!this.gap && !this.catchingUp) return this.snapshot(at);
    this.snapshotWaiting = true;
    return this.catchUp()
      .then(() => (this.gap || this.docs[doc].sinceSnapshot < every ? undefined : this.snapshot(at)))
      .finally(() => {
        this.snapshotWaiting = false;
      });
  }

  private snapshot(at: string): Promise<void> {
    const seq = this.appliedSeq;
    // Every document at the same seq: a load reads the log from the lowest
    // snapshot, so a document never snapshotted (notes nobody wrote) would
    // otherwise make every cold join read the whole log.
    const saves = DOC_NAMES.map((d) => {
      const s = this.docs[d];
      const snapshot = { doc: d, seq, state: Y.encodeStateAsUpdate(s.ydoc) };
      s.sinceSnapshot = 0;
      s.snapshotSeq = seq;
      return this.store.saveSnapshot(this.id, snapshot, at);
    });
    return Promise.all(saves).then(() => {});
  }

  /** Drops the cursors a departed client announced, returning the awareness update to broadcast. */
  removeAwareness(doc: DocName, clientIds: number[]): void {
    const present = clientIds.filter((id) => this.docs[doc].awareness.getStates().has(id));
    if (present.length > 0) removeAwarenessStates(this.docs[doc].awareness, present, 'disconnect');
  }

  destroy(): void {
    clearTimeout(this.unloadTimer);
    for (const d of DOC_NAMES) {
      this.docs[d].awareness.destroy();
      this.docs[d].ydoc.destroy();
    }
  }
}
