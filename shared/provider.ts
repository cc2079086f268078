/**
 * The client half of the sync protocol, for the browser client, the tests and
 * the benchmark alike: binds Yjs documents and their awareness to a Duet
 * Socket.IO connection.
 *
 * Durability: a local edit counts as pending until the server acknowledges it
 * (which it does only once the edit is in the event log). After every
 * (re)connect the provider syncs both ways: it asks for what it lacks, and
 * sends whatever the server's state vector shows it lacks, which covers every
 * edit made offline or left unacknowledged when a node died.
 */
import { ObservableV2 } from 'lib0/observable';
import type { Socket } from 'socket.io-client';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness';
import * as Y from 'yjs';
import { isErrorBody, type WireError } from './errors.js';
import type { Ack, ClientToServerEvents, DocSyncReply, ServerToClientEvents, SessionInfo } from './protocol.js';
import { can, type DocName } from './roles.js';
import { applyUpdateCut } from './yjs-overlap.js';
import { changesSomething, deletionsOf } from './yjs-transactions.js';

export type DuetClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** The origin of awareness changes from the server. */
const REMOTE = Symbol('remote');

/**
 * The origin of a transaction that applies a document update from the server:
 * the update as it came, for an observer that needs more than the document
 * shows afterwards (what the sender had deleted: shared/rename-rescue.ts).
 */
export class FromServer {
  constructor(readonly update: Uint8Array) {}
}
/**
 * Socket.IO's reconnection delays the browser client uses: a node that
 * restarts, or a client moving to another node, is tried again within 2 s
 * at most (Socket.IO's own default waits up to 5 s), and the attempts of a
 * dead node's clients are still spread (randomised, doubling from 300 ms).
 */
export const RECONNECTION_DELAYS = { reconnectionDelay: 300, reconnectionDelayMax: 2000 } as const;

/** Codes after which an edit is worth sending again (the server kept nothing). */
const RETRYABLE = new Set(['unavailable', 'rate_limited', 'internal']);
/** An edit's ack not back by then (or lost with the connection) counts as not stored: the next sync sends it again. */
const ACK_TIMEOUT_MS = 30_000;
/** A sync the server could not answer just now is asked again after this, doubling up to the max. */
const SYNC_RETRY_MS = 1000;
const SYNC_RETRY_MAX_MS = 30_000;
/** A sync asked in the handshake and not answered by then is asked again with `doc:sync`. */
const HANDSHAKE_SYNC_TIMEOUT_MS = 30_000;
/**
 * A local awareness state set again unchanged is sent only if this long has
 * passed since the last one sent. Editors set the cursor on every key, and
 * while someone types the cursor's relative position (anchored to the
 * character on its right) does not change: each key would otherwise send an
 * awareness update as well as the edit, to every peer. Peers drop a state
 * not renewed for 30 s (y-protocols' outdatedTimeout), and y-protocols
 * renews a state 15 to 18 s after it was last set, so a state skipped here
 * is renewed at most 26 s after the last one sent.
 */
export const AWARENESS_RESEND_MS = 8_000;
/** Peers appearing within this of each other get one announce of our awareness state. */
const ANNOUNCE_COALESCE_MS = 50;
/** After the node refused an event for its rate, our awareness state is sent again this much later. */
const RATE_LIMITED_RETRY_MS = 1000;

export interface ProviderDoc {
  doc: Y.Doc;
  awareness: Awareness;
  /** Synced at least once on the current connection. */
  synced: boolean;
}

export type ProviderStatus = 'connecting' | 'connected' | 'offline';

type Events = {
  status: (status: ProviderStatus) => void;
  synced: (doc: DocName) => void;
  session: (session: SessionInfo) => void;
  /** Number of local edits not yet acknowledged as durable. */
  pending: (count: number) => void;
  /** An edit or sync the server refused for good (forbidden, interview_ended, too_large, ...). */
  refused: (error: WireError, doc: DocName) => void;
};

export class DuetProvider extends ObservableV2<Events> {
  readonly docs = new Map<DocName, ProviderDoc>();
  session: SessionInfo | undefined;
  status: ProviderStatus = 'connecting';
  /** Edits sent and not acknowledged, plus edits made while not synced. */
  private inFlight = 0;
  /**
   * Documents with an edit the server refused for good (too large, say).
   * The edit stays in the local document and every later one builds on it,
   * so nothing typed since can be stored either: until the server has
   * stored the refused clocks (the text undone, then synced), it counts as
   * not saved.
   */
  private readonly refusedEdits = new Map<DocName, { error: WireError; from: Map<number, number>; upTo: Map<number, number> }>();
  private dirty = new Set<DocName>();
  /** Syncs in flight carrying a document's unsent edits: still pending until each one's answer has sent them. */
  private readonly resending = new Map<DocName, number>();
  private readonly gapTimers = new Map<DocName, ReturnType<typeof setTimeout>>();
  private readonly syncRetryTimers = new Map<DocName, ReturnType<typeof setTimeout>>();
  /** Syncs asked in the current connection attempt's handshake and not answered yet: was the document empty then. */
  private readonly handshakeSyncs = new Map<DocName, { emptyBefore: boolean }>();
  private handshakeSyncTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly syncFailures = new Map<DocName, number>();
  private readonly offHandlers: Array<() => void> = [];
  /** Each document's listener for local edits, detached while a server update applies. */
  private readonly localEditListeners = new Map<DocName, (update: Uint8Array, origin: unknown) => void>();

  private readonly resyncTimer: ReturnType<typeof setInterval>;
  private readonly ackTimeoutMs: number;
  private readonly awarenessResendMs: number;
  /** Each document's local awareness state as last sent (its JSON, what the wire carries), and when. */
  private readonly awarenessSent = new Map<DocName, { json: string; at: number }>();
  /** Documents whose awareness state was announced on some connection already. */
  private readonly announced = new Set<DocName>();
  private readonly announceTimers = new Map<DocName, ReturnType<typeof setTimeout>>();

  constructor(
    readonly socket: DuetClientSocket,
    docNames: DocName[] = ['main'],
    options: { resyncEveryMs?: number; ackTimeoutMs?: number; awarenessResendMs?: number } = {},
  ) {
    super();
    this.ackTimeoutMs = options.ackTimeoutMs ?? ACK_TIMEOUT_MS;
    this.awarenessResendMs = options.awarenessResendMs ?? AWARENESS_RESEND_MS;
    // A node can commit an edit and die before broadcasting it; when nothing
    // later builds on that edit, no gap shows. A cheap periodic sync (a state
    // vector each way) brings such an edit in from the log.
    this.resyncTimer = setInterval(() => {
      if (!this.socket.connected) return;
      for (const [name, entry] of this.docs) if (entry.synced) void this.sync(name);
    }, options.resyncEveryMs ?? 30_000);
    for (const name of docNames) this.attach(name);

    const on = <E extends keyof ServerToClientEvents>(event: E, fn: ServerToClientEvents[E]) => {
      socket.on(event, fn as never);
      this.offHandlers.push(() => socket.off(event, fn as never));
    };
    on('session', (session) => {
      this.session = session;
      // A node that predates syncs in the handshake ignored them: ask now.
      this.askUnanswered(session.handshakeSync ?? []);
      this.emit('session', [session]);
      this.setStatus('connected');
    });
    // Each document's first sync goes in the handshake (`auth.sync`), so the
    // node answers as soon as the socket is in the room, the same round trip
    // as the connection itself; a `doc:sync` sent on `connect` would cost one
    // more on every join and reconnect.
    const auth = socket.auth;
    socket.auth = (cb) => {
      const withSync = (data: object) => cb({ ...data, sync: this.handshakeSync() });
      if (typeof auth === 'function') auth(withSync);
      else withSync(auth ?? {});
    };
    this.offHandlers.push(() => (socket.auth = auth));
    on('doc:sync', (answer) => {
      const asked = this.handshakeSyncs.get(answer.doc);
      if (!asked) return;
      this.handshakeSyncs.delete(answer.doc);
      if (this.handshakeSyncs.size === 0) clearTimeout(this.handshakeSyncTimer);
      const { doc, ...reply } = answer;
      this.onSyncReply(doc, reply, false, asked.emptyBefore);
    });
    const onConnect = () => {
      for (const name of this.docs.keys()) if (!this.handshakeSyncs.has(name)) void this.sync(name);
      clearTimeout(this.handshakeSyncTimer);
      if (this.handshakeSyncs.size === 0) return;
      this.handshakeSyncTimer = setTimeout(() => this.askUnanswered(), HANDSHAKE_SYNC_TIMEOUT_MS);
    };
    socket.on('connect', onConnect);
    this.offHandlers.push(() => socket.off('connect', onConnect));
    if (socket.connected) onConnect();
    on('doc:update', ({ doc, update }) => {
      const d = this.docs.get(doc);
      if (!d) return;
      if (this.applyRemote(doc, toBytes(update))) this.markDirty(doc, 'now');
      // Broadcasts are not reliable across nodes: a node can die between committing an
      // edit and publishing it, or Redis can drop it. Later edits that build on the lost
      // one then wait in Yjs as pending. The log has it: sync if the gap stays open.
      if (hasGap(d.doc)) this.syncIfGapStays(doc);
    });
    on('awareness', ({ doc, update }) => {
      const d = this.docs.get(doc);
      if (d) applyAwarenessUpdate(d.awareness, toBytes(update), REMOTE);
    });
    on('error', ({ code }) => {
      // An event sent without an ack was refused for its rate; it may have been
      // our awareness state, which must not count as sent (an unchanged one
      // would not go again for AWARENESS_RESEND_MS): send it again later.
      if (code !== 'rate_limited') return;
      for (const name of this.docs.keys()) {
        this.awarenessSent.delete(name);
        this.announceAwarenessSoon(name, RATE_LIMITED_RETRY_MS);
      }
    });
    const onDisconnect = () => {
      // Unanswered: the next connection's handshake asks again.
      this.handshakeSyncs.clear();
      clearTimeout(this.handshakeSyncTimer);
      for (const d of this.docs.values()) {
        d.synced = false;
        // Others' cursors are stale once we cannot hear them.
        const others = [...d.awareness.getStates().keys()].filter((id) => id !== d.doc.clientID);
        removeAwarenessStates(d.awareness, others, REMOTE);
      }
      this.setStatus('offline');
    };
    socket.on('disconnect', onDisconnect);
    this.offHandlers.push(() => socket.off('disconnect', onDisconnect));
  }

  /** An edit the server refused for good and this client still holds, if any: nothing typed since is saved. */
  get refusedEdit(): { doc: DocName; error: WireError } | undefined {
    const [first] = this.refusedEdits;
    return first && { doc: first[0], error: first[1].error };
  }

  /** Edits the server has not confirmed, or one it refused that this client still holds. */
  get unsaved(): boolean {
    return this.pending > 0 || this.refusedEdits.size > 0;
  }

  private refuse(name: DocName, error: WireError, update: Uint8Array): void {
    // After the end nothing is stored, and nothing is lost that was not already: the room turns read-only.
    if (error.code !== 'interview_ended') {
      const { from, to } = Y.parseUpdateMeta(update);
      this.refusedEdits.set(name, { error, from, upTo: to });
    }
    this.emit('refused', [error, name]);
  }

  /**
   * A refusal stands until an update the server stored holds everything the
   * refused one wrote (the text undone, and sent with the rest by a sync): an
   * edit that only deletes older text is stored without it.
   */
  private storedAfterRefusal(name: DocName, update: Uint8Array): void {
    const refused = this.refusedEdits.get(name);
    if (!refused) return;
    const stored = Y.parseUpdateMeta(update).to;
    if ([...refused.upTo].every(([client, clock]) => (stored.get(client) ?? 0) >= clock)) {
      this.refusedEdits.delete(name);
      return;
    }
    // This one only deleted, say, the refused text (an undo): what is left of
    // it is small now, and goes with a sync. Not before: each sync would send
    // the refused text again, as large as it was.
    if (this.refusedTextGone(name, refused)) this.markDirty(name, 'now');
  }

  /** A refused edit of this document whose text this client still has. */
  private stuckOnRefusal(name: DocName): boolean {
    const refused = this.refusedEdits.get(name);
    return refused !== undefined && !this.refusedTextGone(name, refused);
  }

  /** Has this client deleted every character the refused update wrote? */
  private refusedTextGone(name: DocName, refused: { from: Map<number, number>; upTo: Map<number, number> }): boolean {
    const store = this.docs.get(name)!.doc.store;
    try {
      for (const [client, end] of refused.upTo) {
        for (let clock = refused.from.get(client) ?? end; clock < end; ) {
          const struct = Y.getItem(store, Y.createID(client, clock));
          if (!struct.deleted) return false;
          clock = struct.id.clock + struct.length;
        }
      }
      return true;
    } catch {
      return false;
    }
  }

  get pending(): number {
    // A document counts once whether its unsent edits wait for a sync or ride on one.
    let docs = this.dirty.size;
    for (const name of this.resending.keys()) if (!this.dirty.has(name)) docs++;
    return this.inFlight + docs;
  }

  doc(name: DocName): Y.Doc {
    const d = this.docs.get(name);
    if (!d) throw new Error(`document ${name} is not attached`);
    return d.doc;
  }

  awareness(name: DocName): Awareness {
    const d = this.docs.get(name);
    if (!d) throw new Error(`document ${name} is not attached`);
    return d.awareness;
  }

  /** Resolves once `name` has completed a sync with the server on this connection. */
  whenSynced(name: DocName = 'main'): Promise<void> {
    if (this.docs.get(name)?.synced) return Promise.resolve();
    return new Promise((resolve) => {
      const fn = (doc: DocName) => {
        if (doc !== name) return;
        this.off('synced', fn);
        resolve();
      };
      this.on('synced', fn);
    });
  }

  private attach(name: DocName): void {
    const doc = new Y.Doc();
    const awareness = new Awareness(doc);
    const entry: ProviderDoc = { doc, awareness, synced: false };
    this.docs.set(name, entry);
    const onLocalEdit = (update: Uint8Array, origin: unknown) => {
      if (origin instanceof FromServer) return;
      if (!entry.synced || !this.socket.connected) {
        // Sent by the next sync, as part of what the server lacks.
        this.markDirty(name);
        return;
      }
      this.send(name, update);
    };
    this.localEditListeners.set(name, onLocalEdit);
    doc.on('update', onLocalEdit);
    // Peers whose state this client holds. One that appears (new, or back
    // after its state was removed) may lack ours: a node gives a joiner only
    // the states sent through that node, and ours may not change for a while.
    const present = new Set<number>();
    awareness.on('update', ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
      let appeared = false;
      for (const id of [...added, ...updated]) {
        if (id === doc.clientID || present.has(id) || !awareness.getStates().has(id)) continue;
        present.add(id);
        appeared ||= origin === REMOTE;
      }
      for (const id of removed) present.delete(id);
      if (!this.socket.connected) return;
      if (origin === REMOTE) {
        // Also when a node removed our own state (our old socket left).
        if ((appeared || removed.includes(doc.clientID)) && awareness.getLocalState() !== null) this.announceAwarenessSoon(name);
        return;
      }
      // Only our own state: a peer this client timed out (y-protocols, origin
      // 'timeout') is not ours to remove for everyone, and the node refuses it.
      if (![...added, ...updated, ...removed].includes(doc.clientID)) return;
      if (!this.awarenessDue(name)) return;
      this.socket.emit('awareness', { doc: name, update: encodeAwarenessUpdate(awareness, [doc.clientID]) });
    });
  }

  /**
   * Whether the local awareness state, just set, is worth sending (and if so,
   * noted as sent). Not if it is the same as the last one sent, less than
   * awarenessResendMs ago (see AWARENESS_RESEND_MS). Compared as JSON, as the
   * wire carries it: y-protocols' own 'change' event tells a state apart from
   * an equal one whenever it holds class instances, as Yjs's relative
   * positions do.
   */
  private awarenessDue(name: DocName): boolean {
    const json = JSON.stringify(this.docs.get(name)!.awareness.getLocalState());
    // Monotonic: a wall clock set back would hold an unchanged state back for good.
    const now = performance.now();
    const last = this.awarenessSent.get(name);
    if (last && last.json === json && now - last.at < this.awarenessResendMs) return false;
    this.awarenessSent.set(name, { json, at: now });
    return true;
  }

  /**
   * Sends the local awareness state, changed or not, under a new clock: a
   * peer that dropped our state (as every client does on its own disconnect)
   * keeps the clock it had, and takes only a newer one.
   */
  private announceAwareness(name: DocName): void {
    this.cancelAnnounce(name);
    const { awareness } = this.docs.get(name)!;
    const local = awareness.getLocalState();
    if (local === null || !this.socket.connected) return;
    this.awarenessSent.delete(name); // so the set below is sent (attach's 'update' listener)
    awareness.setLocalState(local);
  }

  /** Drops a pending announceAwarenessSoon. */
  private cancelAnnounce(name: DocName): void {
    clearTimeout(this.announceTimers.get(name));
    this.announceTimers.delete(name);
  }

  /**
   * announceAwareness a moment later: peers appearing together (a node's
   * snapshot of its states, the answers to our own announce) get one.
   */
  private announceAwarenessSoon(name: DocName, afterMs = ANNOUNCE_COALESCE_MS): void {
    if (this.announceTimers.has(name)) return;
    this.announceTimers.set(
      name,
      setTimeout(() => this.announceAwareness(name), afterMs),
    );
  }

  /**
   * Applies an update from the server with the local-edit listener detached:
   * while any 'update' listener is attached, Yjs encodes every transaction
   * again to hand it over, which for a joiner's first state (the whole
   * document) cost several milliseconds of the join, only to be ignored.
   * Returns whether an observer made an edit meanwhile, which the caller
   * must have the next sync send.
   */
  private applyRemote(name: DocName, update: Uint8Array): boolean {
    const { doc } = this.docs.get(name)!;
    const onLocalEdit = this.localEditListeners.get(name)!;
    let localEdit = false;
    const onTransaction = (tr: Y.Transaction) => {
      if (!(tr.origin instanceof FromServer) && changesSomething(tr)) localEdit = true;
    };
    doc.off('update', onLocalEdit);
    doc.on('afterTransaction', onTransaction);
    try {
      applyUpdateCut(doc, update, new FromServer(update));
    } finally {
      doc.off('afterTransaction', onTransaction);
      doc.on('update', onLocalEdit);
    }
    return localEdit;
  }

  private send(name: DocName, update: Uint8Array): void {
    this.inFlight++;
    this.emit('pending', [this.pending]);
    // With a timeout, Socket.IO also calls back when the connection drops;
    // a plain ack would never be called then, and the edit never counted.
    this.socket.timeout(this.ackTimeoutMs).emit('doc:update', { doc: name, update }, (err, reply) => {
      this.inFlight--;
      if (err) this.markDirty(name);
      else if (isErrorBody(reply)) {
        if (RETRYABLE.has(reply.error.code)) {
          // Built on a refused edit still in the document, it cannot be stored
          // either, and a sync now would send the refused text again, as large
          // as it was: it waits for the undo, or the periodic resync.
          if (this.stuckOnRefusal(name)) this.dirty.add(name);
          else this.markDirty(name);
        } else this.refuse(name, reply.error, update);
      } else this.storedAfterRefusal(name, update);
      this.emit('pending', [this.pending]);
    });
  }

  /**
   * An edit the server may lack goes with the next sync: at once for an edit
   * made while a server update applied, shortly (with backoff) for a
   * refused-but-retryable or unacknowledged one.
   */
  private markDirty(name: DocName, when: 'soon' | 'now' = 'soon'): void {
    this.dirty.add(name);
    this.emit('pending', [this.pending]);
    if (!this.socket.connected || !this.docs.get(name)?.synced) return;
    if (when === 'now') void this.sync(name);
    else this.syncAgainSoon(name);
  }

  /** A sync again shortly, for a sync that failed or a refused edit; backs off (1 s, 2 s, 4 s... up to 30 s) while syncs keep failing. */
  private syncAgainSoon(name: DocName): void {
    if (this.syncRetryTimers.has(name)) return;
    const failures = (this.syncFailures.get(name) ?? 0) + 1;
    this.syncFailures.set(name, failures);
    this.syncRetryTimers.set(
      name,
      setTimeout(
        () => {
          this.syncRetryTimers.delete(name);
          if (this.socket.connected) void this.sync(name);
        },
        Math.min(SYNC_RETRY_MAX_MS, SYNC_RETRY_MS * 2 ** (failures - 1)),
      ),
    );
  }

  /**
   * Waits a little first: broadcasts from different nodes may arrive out of
   * causal order, and the missing piece is usually already on its way.
   */
  private syncIfGapStays(name: DocName): void {
    if (this.gapTimers.has(name)) return;
    this.gapTimers.set(
      name,
      setTimeout(() => {
        this.gapTimers.delete(name);
        const entry = this.docs.get(name);
        if (entry?.synced && this.socket.connected && hasGap(entry.doc)) void this.sync(name);
      }, 500),
    );
  }

  /** Both directions: fetch what we lack, then send what the server lacks. */
  private async sync(name: DocName): Promise<void> {
    const entry = this.docs.get(name)!;
    const wasDirty = this.dirty.delete(name);
    // Until the answer has sent them, those edits are no more stored than
    // before: `pending` (the unsaved-edits warning, the status) keeps them.
    const carried = () => {
      if (!wasDirty) return;
      const n = (this.resending.get(name) ?? 0) - 1;
      if (n > 0) this.resending.set(name, n);
      else this.resending.delete(name);
    };
    if (wasDirty) this.resending.set(name, (this.resending.get(name) ?? 0) + 1);
    // Nothing at all yet: whatever it holds after the answer came from the server.
    const emptyBefore = entry.doc.store.clients.size === 0;
    let reply: Ack<DocSyncReply>;
    try {
      reply = await this.socket
        .timeout(30_000)
        .emitWithAck('doc:sync', { doc: name, stateVector: Y.encodeStateVector(entry.doc) });
    } catch {
      carried();
      if (wasDirty) this.markDirty(name);
      // Disconnected: the next connect syncs again. Timed out: try again.
      this.syncAgainSoon(name);
      return;
    }
    // The answer sends them (or marks them again) before anything can read `pending`.
    carried();
    this.onSyncReply(name, reply, wasDirty, emptyBefore);
  }

  /**
   * The state vectors for the handshake's `auth.sync`, called by Socket.IO at
   * every connection attempt; the answers come as `doc:sync` events.
   */
  private handshakeSync(): Partial<Record<DocName, string>> {
    this.handshakeSyncs.clear();
    const sync: Partial<Record<DocName, string>> = {};
    for (const [name, entry] of this.docs) {
      this.handshakeSyncs.set(name, { emptyBefore: entry.doc.store.clients.size === 0 });
      sync[name] = toBase64(Y.encodeStateVector(entry.doc));
    }
    return sync;
  }

  /** Asks with `doc:sync` for the syncs of the handshake still unanswered, but those in `except`. */
  private askUnanswered(except: readonly DocName[] = []): void {
    for (const name of [...this.handshakeSyncs.keys()]) {
      if (except.includes(name)) continue;
      this.handshakeSyncs.delete(name);
      void this.sync(name);
    }
  }

  /** A sync's answer, asked with `doc:sync` or in the handshake: take what we lacked, send what the server lacks. */
  private onSyncReply(name: DocName, reply: Ack<DocSyncReply>, wasDirty: boolean, emptyBefore: boolean): void {
    const entry = this.docs.get(name)!;
    if (isErrorBody(reply)) {
      if (wasDirty) this.markDirty(name);
      // A node that cannot read its log just now (unavailable, internal) or a
      // rate limit: try again, else a first sync that failed would leave the
      // document empty and unsynced until the next reconnect.
      if (RETRYABLE.has(reply.error.code)) this.syncAgainSoon(name);
      else this.emit('refused', [reply.error, name]);
      return;
    }
    // An edit made while it applied is sent below, with what the server lacks.
    if (this.applyRemote(name, toBytes(reply.update))) this.dirty.add(name);
    this.syncFailures.delete(name);
    const hadLocalEdits = this.dirty.delete(name) || wasDirty;
    const firstOnConnection = !entry.synced;
    entry.synced = true;
    // Yjs always puts the whole delete set in what the server lacks. It is
    // news to the server if this client deleted something the server may not
    // have stored (an edit of its own never acknowledged), or if the log lost
    // deletions it had acknowledged (a database restored or failed over):
    // offered once per connection by those who may write and had the document
    // before, a node that loaded the room from such a log takes them back. The
    // node logs none of it that it already has; periodic resyncs on the same
    // connection skip it, and an observer, whose offer would be refused, never
    // sends it.
    const mayWrite = this.session === undefined || can.writeDoc(this.session.you.role, name);
    const offerDeletions = hadLocalEdits || (firstOnConnection && mayWrite && !emptyBefore);
    const serverVector = toBytes(reply.stateVector);
    // Encoding what the server lacks walks the whole document (the delete
    // set): skipped when a state vector comparison shows there is nothing to send.
    if (offerDeletions || lacksStructs(entry.doc, serverVector)) {
      // Every local edit the server lacks, including any made during this round trip.
      const missing = this.refusedEdits.has(name) ? withoutDeletedText(entry.doc, serverVector) : Y.encodeStateAsUpdate(entry.doc, serverVector);
      // Deletions only, every one of them in the delete set the answer came
      // with: everything in an answer is stored, so nothing is sent. A node
      // that loaded the room cold would otherwise apply its stored bytes at
      // once to check them, for every writer of a node that went down, as
      // they reconnect. An answer may lack some of the node's deletions (one
      // cut from stored bytes holds those each logged update wrote, not those
      // Yjs made integrating it): then the offer goes, as before.
      if (hasStructs(missing) || (hasContent(missing) && offerDeletions && !deletesNothingNew(missing, toBytes(reply.update)))) this.send(name, missing);
    }
    this.emit('pending', [this.pending]);
    this.emit('synced', [name]);
    // Announce our cursor to the (re)joined room. After a reconnection, our
    // state first goes away and comes back: peers that still hold it (our old
    // node died before it could say we left) then see us appear, and announce
    // theirs, which this client dropped on disconnect and the new node may lack.
    const local = entry.awareness.getLocalState();
    if (local === null) return;
    if (firstOnConnection && this.announced.has(name)) {
      // Sent by the two sets below: an announce a peer's appearance scheduled would repeat them.
      this.cancelAnnounce(name);
      entry.awareness.setLocalState(null);
      entry.awareness.setLocalState(local);
    } else this.announceAwareness(name);
    this.announced.add(name);
  }

  private setStatus(status: ProviderStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.emit('status', [status]);
  }

  override destroy(): void {
    clearInterval(this.resyncTimer);
    clearTimeout(this.handshakeSyncTimer);
    for (const t of this.gapTimers.values()) clearTimeout(t);
    for (const t of this.syncRetryTimers.values()) clearTimeout(t);
    for (const t of this.announceTimers.values()) clearTimeout(t);
    for (const off of this.offHandlers) off();
    for (const d of this.docs.values()) {
      d.awareness.destroy();
      d.doc.destroy();
    }
    super.destroy();
  }
}

/** Browsers deliver binary as ArrayBuffer, Node as Buffer. */
export function toBytes(data: Uint8Array | ArrayBuffer): Uint8Array {
  return data instanceof Uint8Array ? data : new Uint8Array(data);
}

/** Binary in the handshake's `auth`, which Socket.IO sends as JSON: base64 (btoa is in browsers and Node). */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** Yjs holds updates (or deletions) whose dependencies it has not seen. */
function hasGap(doc: Y.Doc): boolean {
  return doc.store.pendingStructs !== null || doc.store.pendingDs !== null;
}

/** Does the document have structs beyond the server's state vector? */
function lacksStructs(doc: Y.Doc, serverVector: Uint8Array): boolean {
  const server = Y.decodeStateVector(serverVector);
  for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVector(doc))) if (clock > (server.get(client) ?? 0)) return true;
  return false;
}

/** An update (v1) starts with how many clients it has structs of. */
function hasStructs(update: Uint8Array): boolean {
  return update[0] !== 0;
}

/** An update with no structs and an empty delete set encodes as [0, 0]. */
function hasContent(update: Uint8Array): boolean {
  return !(update.length === 2 && update[0] === 0 && update[1] === 0);
}

/** Whether every deletion in `update` is in `known`'s delete set. */
function deletesNothingNew(update: Uint8Array, known: Uint8Array): boolean {
  let knownDeletes: ReturnType<typeof deletionsOf>;
  try {
    knownDeletes = deletionsOf(known);
  } catch {
    return false;
  }
  for (const [client, ranges] of Y.decodeUpdate(update).ds.clients) {
    if (!ranges.every(({ clock, len }) => knownDeletes(client, clock, len))) return false;
  }
  return true;
}

/**
 * What the server lacks, with the content of deleted text left out. An undo
 * keeps what it deleted (for a redo), so after an edit the server refused for
 * its size is undone, the plain difference still carries all of it and is
 * refused again. Loaded into a fresh document, the deleted text is collected
 * as Yjs does on any load, and only its length goes. Only after a refusal:
 * it costs a copy of the document.
 */
function withoutDeletedText(doc: Y.Doc, serverVector: Uint8Array): Uint8Array {
  const lean = new Y.Doc();
  try {
    Y.applyUpdate(lean, Y.encodeStateAsUpdate(doc));
    return Y.encodeStateAsUpdate(lean, serverVector);
  } finally {
    lean.destroy();
  }
}
