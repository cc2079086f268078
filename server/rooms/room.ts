/**
 * One interview's live state on this node: its two Yjs documents and their
 * awareness. The documents are a cache of the event log: loaded from the
 * latest snapshot plus the log's tail, fed with this node's own commits, and
 * read from the log before a sync is answered (for a join, by a read that
 * began after the socket subscribed: readSince), so a joiner always gets
 * every committed edit, whichever node committed it.
 *
 * A load only reads: the bytes are applied to the Y.Docs when something first
 * needs them (doc()). So the first joiner of a cold room can be sent the
 * stored bytes as they are (storedDoc()) and integrate them while this
 * node applies its own copy, instead of waiting for the node to decode the
 * snapshot and encode it again.
 */
import * as Y from 'yjs';
import { Awareness, removeAwarenessStates } from 'y-protocols/awareness';
import { DuetError } from '../../shared/errors.js';
import type { Interview } from '../../shared/protocol.js';
import { DOC_NAMES, type DocName } from '../../shared/roles.js';
import { applyUpdateCut } from '../../shared/yjs-overlap.js';
import { changesSomething } from '../../shared/yjs-transactions.js';
import type { Snapshot, Store, StoredEvent } from '../store/store.js';
import type { TokenBucket } from '../realtime/token-bucket.js';
import { EditorIds } from './editor-ids.js';

/**
 * Longer than a joiner's client takes to integrate a long document (up to
 * ~100 ms in the bench), shorter than a person takes to start typing.
 */
export const DEFAULT_APPLY_AFTER_MS = 300;

/** A document is snapshotted again once the updates since its snapshot hold its size / this in bytes (worthSnapshotting)... */
const SNAPSHOT_BYTES_RATIO = 8;
/**
 * ...or once there are as many updates since as it has bytes / this: a load
 * pays for a tail by the update, not by the byte. 490 keystrokes of eight
 * writers (8 KB) after a 113 KB snapshot took a just-started node 6-28 ms to
 * merge and its joiner ~20 ms to integrate, more than the whole snapshot (~8 ms).
 */
const SNAPSHOT_BYTES_PER_UPDATE = 512;
/**
 * The least a document update costs its author's write budget: so the
 * snapshots an update's count warrants write at most SNAPSHOT_BYTES_RATIO
 * bytes per byte of budget, as those its bytes warrant do (typing spends a few
 * hundred bytes a second of a budget of 16 KiB).
 */
export const MIN_UPDATE_CHARGE_BYTES = SNAPSHOT_BYTES_PER_UPDATE / SNAPSHOT_BYTES_RATIO;
/** A document this small that changed at all is written with the other's snapshot: cheap, and it keeps both at one seq. */
const SMALL_SNAPSHOT_BYTES = 64 * 1024;

interface Unapplied {
  snapshot?: Snapshot;
  tail: Uint8Array[];
  /** storedDoc()'s answer, for as long as the tail is as long as it was then (it only grows until applied). */
  stored?: { tailLength: number; doc: StoredDoc };
}

/** A document as stored, ready to send: apply `updates` in order and you have it. */
export interface StoredDoc {
  /** The snapshot (if any), then the log's tail merged. */
  updates: Uint8Array[];
  stateVector: Uint8Array;
}

interface DocState {
  ydoc: Y.Doc;
  awareness: Awareness;
  /** Seq of the newest snapshot of this document. */
  snapshotSeq: number;
  /** Committed updates applied since the last snapshot. */
  sinceSnapshot: number;
  /** Their bytes. */
  bytesSinceSnapshot: number;
  /** Bytes of the newest snapshot (0 if none). */
  snapshotBytes: number;
  /**
   * The whole document as one update, until it next changes: fresh joiners
   * of a document nobody is editing (a page reloaded, someone joining late)
   * share one encoding, and right after a cold load it is the stored
   * snapshot itself.
   */
  whole?: WholeDoc;
}

/** A document encoded whole: what a client with nothing is sent. */
export interface WholeDoc {
  update: Uint8Array;
  stateVector: Uint8Array;
}

export class Room {
  /** Read the Y.Docs through doc(), which applies what was read first. */
  private readonly docs: Record<DocName, DocState>;
  /** Every event with seq <= this has been applied to the documents. */
  private appliedSeq = 0;
  /**
   * The newest of this node's commits applied out of order: events other
   * nodes (or this node's chat, joins...) committed in between are not applied
   * yet, so appliedSeq cannot move past them until the log is read.
   */
  private aheadSeq = 0;
  private catchingUp: Promise<void> | null = null;
  /** When (performance.now()) the read in flight started. */
  private catchingUpStart = 0;
  /** When the newest completed read of the log started. */
  private lastReadStart = -Infinity;
  private nextCatchUp: Promise<void> | null = null;
  /** A snapshot is due but waits for the log to be read (it must be exact). */
  private snapshotWaiting = false;
  /** Read from the store and not applied yet, per document: the snapshot, then the log's updates in order. */
  private unapplied: Record<DocName, Unapplied> | null = { main: { tail: [] }, notes: { tail: [] } };
  /** A deferred apply of what was read (applyReadSoon). */
  private applyTimer: NodeJS.Timeout | undefined;
  /** What was read did not apply: it must not be sent to joiners as the document either. */
  private applyFailed = false;
  sockets = 0;
  unloadTimer: NodeJS.Timeout | undefined;
  /** Characters of text in updates this node is committing and has not applied yet (the size limit counts them). */
  readonly charsInFlight: Record<DocName, number> = { main: 0, notes: 0 };
  /** Which of this node's sockets holds each awareness client id, to clear when it leaves (the realtime layer's; awareness.ts). */
  readonly awarenessOwners: Record<DocName, Map<number, object>> = { main: new Map(), notes: new Map() };
  /** What each person may still do here, by kind and sub: bytes to log, runs, syncs... (the realtime layer's; person-budgets.ts). */
  readonly budgets = new Map<string, TokenBucket>();
  /** Who writes under each Yjs client id (editor-ids.ts). */
  readonly editors: EditorIds;

  private constructor(
    readonly id: string,
    public interview: Interview,
    private readonly store: Store,
    private readonly applyAfterMs: number,
  ) {
    this.editors = new EditorIds(store, id);
    const make = (): DocState => {
      const ydoc = new Y.Doc({ gc: true });
      const awareness = new Awareness(ydoc);
      // The server has no cursor of its own.
      awareness.setLocalState(null);
      const state: DocState = { ydoc, awareness, snapshotSeq: 0, sinceSnapshot: 0, bytesSinceSnapshot: 0, snapshotBytes: 0 };
      // Any change, whoever makes it, retires the encoding ('afterTransaction'
      // costs nothing; an 'update' listener would encode every transaction).
      // A catch-up that read nothing is a transaction too, and keeps it.
      ydoc.on('afterTransaction', (tr: Y.Transaction) => {
        if (changesSomething(tr) || ydoc.store.pendingStructs || ydoc.store.pendingDs) state.whole = undefined;
      });
      return state;
    };
    this.docs = { main: make(), notes: make() };
  }

  /**
   * `interview` may still be being read: the snapshots are read alongside it.
   * `applyAfterMs`: how long after a join a cold load's bytes wait to be applied (applyReadSoon).
   * `onSnapshots`: told the snapshots (by DOC_NAMES order) as soon as they are read, before the log's tail.
   */
  static async load(
    store: Store,
    id: string,
    interview: Interview | Promise<Interview | undefined>,
    applyAfterMs = DEFAULT_APPLY_AFTER_MS,
    onSnapshots?: (snapshots: ReadonlyArray<Snapshot | undefined>) => void,
  ): Promise<Room> {
    const [found, snapshots] = await Promise.all([interview, Promise.all(DOC_NAMES.map((d) => store.latestSnapshot(id, d)))]);
    if (!found) throw new DuetError('not_found', 'no such interview');
    onSnapshots?.(snapshots);
    const room = new Room(id, found, store, applyAfterMs);
    let from = Infinity;
    DOC_NAMES.forEach((d, i) => {
      const snap = snapshots[i];
      const state = room.docs[d];
      if (snap) {
        room.unapplied![d].snapshot = snap;
        state.snapshotSeq = snap.seq;
        state.snapshotBytes = snap.state.byteLength;
      }
      from = Math.min(from, state.snapshotSeq);
    });
    room.appliedSeq = from;
    await room.readTail();
    return room;
  }

  awareness(name: DocName): Awareness {
    return this.docs[name].awareness;
  }

  /** The document, with everything read so far applied. */
  doc(name: DocName): Y.Doc {
    this.applyRead();
    return this.docs[name].ydoc;
  }

  /**
   * The document as read and not applied yet (a cold load no one has needed
   * the Y.Doc of), with its state vector worked out from the snapshot's stored
   * one and the tail's update headers, without decoding the snapshot.
   * Undefined once applied, once it failed to apply, for a snapshot stored
   * without a state vector, or past `maxTail` updates after the snapshot.
   */
  storedDoc(name: DocName, maxTail: number): StoredDoc | undefined {
    const read = this.unapplied?.[name];
    if (!read || this.applyFailed || (read.snapshot && !read.snapshot.stateVector) || read.tail.length > maxTail) return undefined;
    // Worked out once for every joiner until the log's tail grows: after a
    // node dies, its rooms' clients reconnect to another node together, and
    // merging a tail of 490 updates took 12-49 ms each time (change 46).
    if (read.stored?.tailLength === read.tail.length) return read.stored.doc;
    const vector = read.snapshot ? Y.decodeStateVector(read.snapshot.stateVector!) : new Map<number, number>();
    // Every logged update was checked for missing dependencies before it was
    // committed, so each author's clocks run on from the snapshot without gaps.
    for (const update of read.tail) {
      for (const [client, clock] of Y.parseUpdateMeta(update).to) if (clock > (vector.get(client) ?? 0)) vector.set(client, clock);
    }
    // The tail as one update: a client integrates one transaction, not hundreds.
    const tail = read.tail.length > 1 ? [Y.mergeUpdates(read.tail)] : read.tail.slice();
    const doc = { updates: read.snapshot ? [read.snapshot.state, ...tail] : tail, stateVector: Y.encodeStateVector(vector) };
    read.stored = { tailLength: read.tail.length, doc };
    return doc;
  }

  /**
   * What a client holding `stateVector` lacks (a reconnection after its node
   * went down), cut from the stored bytes as storedDoc() has them, without
   * applying them: on a node that has just started, applying a long document
   * took 10-75 ms, and cutting its stored bytes a quarter of that. Undefined
   * when storedDoc() is, or when the bytes do not decode.
   */
  storedDiff(name: DocName, stateVector: Uint8Array, maxTail: number): WholeDoc | undefined {
    const stored = this.storedDoc(name, maxTail);
    if (!stored) return undefined;
    try {
      const cuts = stored.updates.map((u) => Y.diffUpdate(u, stateVector));
      return { update: cuts.length === 1 ? cuts[0]! : Y.mergeUpdates(cuts), stateVector: stored.stateVector };
    } catch {
      // Stored bytes Yjs cannot read: the caller applies them instead, which fails and says so (applyFailed).
      return undefined;
    }
  }

  /** The whole document, encoded once for every fresh joiner until it changes. */
  wholeDoc(name: DocName): WholeDoc {
    const ydoc = this.doc(name);
    const state = this.docs[name];
    state.whole ??= { update: Y.encodeStateAsUpdate(ydoc), stateVector: Y.encodeStateVector(ydoc) };
    return state.whole;
  }

  /**
   * Applies what was read a little later, once, unless something needs the
   * documents first (an edit, a reconnecting client's sync, a snapshot: doc()
   * applies at once). Called once a cold load's joiner has its answer and its
   * `session`. The apply holds the node's event loop for 10-75 ms on a node
   * that has just started, and a join seldom comes alone: the rest of a panel,
   * interviews starting on the hour, the clients of a node that went down.
   * Until the apply, each fresh joiner is answered from the stored bytes
   * without decoding anything; and the joiner's own client is integrating
   * those same bytes meanwhile (on a shared machine, with the same cores).
   */
  applyReadSoon(onError: (err: unknown) => void): void {
    if (!this.unapplied || this.applyTimer) return;
    this.applyTimer = setTimeout(() => {
      this.applyTimer = undefined;
      // Everyone left meanwhile: the next to need the documents applies them.
      if (this.sockets === 0) return;
      try {
        this.applyRead();
      } catch (err) {
        onError(err);
      }
    }, this.applyAfterMs);
    this.applyTimer.unref();
  }

  /**
   * Applies what was read, one Yjs transaction per document. If the stored
   * bytes do not apply, it throws and keeps them, so every later use of the
   * documents fails too (an error to that client) rather than working on, or
   * snapshotting, a document missing part of its log.
   */
  applyRead(): void {
    const read = this.unapplied;
    if (!read) return;
    for (const d of DOC_NAMES) {
      const { snapshot, tail } = read[d];
      if (!snapshot && tail.length === 0) continue;
      const ydoc = this.docs[d].ydoc;
      try {
        ydoc.transact(() => {
          if (snapshot) Y.applyUpdate(ydoc, snapshot.state, 'log');
          for (const u of tail) applyUpdateCut(ydoc, u, 'log');
        }, 'log');
      } catch (err) {
        this.applyFailed = true;
        throw err;
      }
      // A snapshot with nothing after it already is the whole document, encoded.
      if (snapshot?.stateVector && tail.length === 0) this.docs[d].whole = { update: snapshot.state, stateVector: snapshot.stateVector };
    }
    // Applying again after a failure part-way is harmless: Yjs skips what a document already has.
    this.unapplied = null;
    clearTimeout(this.applyTimer);
    this.applyTimer = undefined;
  }

  /**
   * Brings the documents up to every event committed before this call, by any
   * node. A read already in flight may have started before the caller's reason
   * to read (a joiner's subscription), so the caller gets the next read, which
   * starts after it; everyone who asks meanwhile shares that one.
   */
  catchUp(): Promise<void> {
    if (!this.catchingUp) {
      this.catchingUpStart = performance.now();
      this.catchingUp = this.readTail(this.catchingUpStart).finally(() => {
        this.catchingUp = null;
      });
      return this.catchingUp;
    }
    this.nextCatchUp ??= this.catchingUp
      .catch(() => {})
      .then(() => {
        this.nextCatchUp = null;
        return this.catchUp();
      });
    return this.nextCatchUp;
  }

  /**
   * Resolves once a read of the log that started at or after `since` has
   * completed. A joiner subscribed at `since` needs no more: anything such a
   * read missed was committed after it started, so reaches the joiner as a
   * broadcast. The room's own load, or another joiner's read, often is one
   * already, which spares a cold join a round trip to the database.
   */
  readSince(since: number): Promise<void> {
    if (this.lastReadStart >= since) return Promise.resolve();
    if (this.catchingUp && this.catchingUpStart >= since) return this.catchingUp;
    return this.catchUp();
  }

  private get gap(): boolean {
    return this.aheadSeq > this.appliedSeq;
  }

  private async readTail(started = performance.now()): Promise<void> {
    // An own commit applied ahead is durable, so a read that started before it
    // committed misses it but the next one finds it; a few reads at most.
    for (let reads = 0; reads === 0 || (this.gap && reads < 3); reads++) await this.readTailOnce();
    this.lastReadStart = Math.max(this.lastReadStart, started);
  }

  private async readTailOnce(): Promise<void> {
    for (;;) {
      const events = await this.store.readEvents(this.id, { after: this.appliedSeq, limit: 5000, docDataOnly: true });
      if (this.unapplied) {
        // Not applied yet: keep the bytes with the rest of what was read.
        for (const e of events) this.applyEvent(e, true);
      } else {
        // One Yjs transaction per document for the whole page: 250 logged updates
        // of a 40k-character document took 7-24 ms one transaction each, 1-2 ms so.
        this.docs.main.ydoc.transact(() => this.docs.notes.ydoc.transact(() => {
          for (const e of events) this.applyEvent(e, true);
        }, 'log'), 'log');
      }
      if (events.length < 5000) break;
    }
  }

  /** Applies an event this node just committed. */
  applyCommitted(event: StoredEvent): void {
    this.applyRead();
    this.applyEvent(event, false);
  }

  private applyEvent(event: StoredEvent, fromLog: boolean): void {
    if (event.type === 'doc' && event.doc && event.bin) {
      const state = this.docs[event.doc];
      if (!fromLog || event.seq > state.snapshotSeq) {
        if (this.unapplied) this.unapplied[event.doc].tail.push(event.bin);
        else applyUpdateCut(state.ydoc, event.bin, 'log');
        state.sinceSnapshot++;
        state.bytesSinceSnapshot += event.bin.byteLength;
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
    return this.snapshotWhen(() => this.docs[doc].sinceSnapshot >= every && this.worthSnapshotting(doc), at);
  }

  /**
   * When the room empties on this node: whoever loads it next (a reconnect,
   * a reviewer, another node after a restart) reads one snapshot instead of
   * merging a tail, if `min` or more updates came since the last one.
   */
  snapshotIfBehind(min: number, at: string): Promise<void> | undefined {
    return this.snapshotWhen(() => DOC_NAMES.some((d) => this.docs[d].sinceSnapshot >= min && this.worthSnapshotting(d)), at);
  }

  /**
   * A snapshot writes the whole document, so it waits until what came since
   * the last one is an eighth of that in bytes, or one update per 512 bytes
   * of it: without that, single keystrokes into a document of megabytes
   * (one person's budget allows a few a second) made the database write it
   * again every few seconds. So a document of up to SNAPSHOT_EVERY × 512
   * bytes (256 KB by default) is snapshotted every SNAPSHOT_EVERY updates,
   * and one whose room empties (snapshotIfBehind) leaves the next cold load
   * at most max(size / 512, SNAPSHOT_EVERY / 10) of its updates past its snapshot.
   */
  private worthSnapshotting(doc: DocName): boolean {
    const s = this.docs[doc];
    return Math.max(s.bytesSinceSnapshot * SNAPSHOT_BYTES_RATIO, s.sinceSnapshot * SNAPSHOT_BYTES_PER_UPDATE) >= s.snapshotBytes;
  }

  private snapshotWhen(due: () => boolean, at: string): Promise<void> | undefined {
    if (!due() || this.snapshotWaiting) return undefined;
    if (!this.gap && !this.catchingUp) return this.snapshot(at);
    this.snapshotWaiting = true;
    return this.catchUp()
      .then(() => (this.gap || !due() ? undefined : this.snapshot(at)))
      .finally(() => {
        this.snapshotWaiting = false;
      });
  }

  // Async so that stored bytes which do not apply reject the snapshot rather
  // than throw at the caller (a socket's leave, which nothing awaits).
  private async snapshot(at: string): Promise<void> {
    this.applyRead();
    const seq = this.appliedSeq;
    // Every document at the same seq where that is cheap: a load reads the log
    // from the lowest snapshot, so a document never snapshotted (notes nobody
    // wrote) would otherwise make every cold join read the whole log. One
    // nothing came to since is not written again, its snapshot only marked as
    // of this seq; a large one a little came to stays behind, and a load reads
    // a longer log (every document skips what its own snapshot holds).
    const saves = DOC_NAMES.map((d) => {
      const s = this.docs[d];
      if (s.sinceSnapshot === 0 && s.snapshotSeq > 0) {
        const from = s.snapshotSeq;
        s.snapshotSeq = seq;
        // Not moved (the row is gone): the next snapshot writes this document whole.
        return this.store.moveSnapshot(this.id, d, from, seq, at).then((moved) => {
          if (!moved) s.snapshotBytes = 0;
        });
      }
      if (s.snapshotBytes > SMALL_SNAPSHOT_BYTES && !this.worthSnapshotting(d)) return undefined;
      // The encoding fresh joiners are sent is the snapshot too (and stays for them).
      const whole = this.wholeDoc(d);
      const snapshot = { doc: d, seq, state: whole.update, stateVector: whole.stateVector };
      s.sinceSnapshot = 0;
      s.bytesSinceSnapshot = 0;
      s.snapshotBytes = whole.update.byteLength;
      s.snapshotSeq = seq;
      return this.store.saveSnapshot(this.id, snapshot, at);
    });
    await Promise.all(saves);
  }

  /** Drops the cursors a departed client announced, returning the awareness update to broadcast. */
  removeAwareness(doc: DocName, clientIds: number[]): void {
    const present = clientIds.filter((id) => this.docs[doc].awareness.getStates().has(id));
    if (present.length > 0) removeAwarenessStates(this.docs[doc].awareness, present, 'disconnect');
  }

  destroy(): void {
    clearTimeout(this.unloadTimer);
    clearTimeout(this.applyTimer);
    for (const d of DOC_NAMES) {
      this.docs[d].awareness.destroy();
      this.docs[d].ydoc.destroy();
    }
  }
}
