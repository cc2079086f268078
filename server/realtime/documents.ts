/** `doc:sync` and `doc:update`: the Yjs sync protocol over Socket.IO events. */
import * as Y from 'yjs';
import { DuetError } from '../../shared/errors.js';
import { LARGE_INSERTION_CHARS, LIMITS } from '../../shared/limits.js';
import { can, DOC_NAMES, type DocName } from '../../shared/roles.js';
import type { DocSyncReply } from '../../shared/protocol.js';
import { docSyncSchema, docUpdateSchema } from '../../shared/schemas.js';
import { cutToMissing } from '../../shared/yjs-overlap.js';
import { channelOf, type ServerContext } from '../context.js';
import { docChars, inspectUpdate } from '../rooms/yjs-checks.js';
import { MIN_UPDATE_CHARGE_BYTES, type Room } from '../rooms/room.js';
import type { Snapshot, StoredEvent } from '../store/store.js';
import { handler, type Handlers } from './handle.js';
import { reportSnapshotFailure } from './snapshot-failures.js';
import type { DuetSocket } from './socket-data.js';
import { spendWriteBudget, takeEditorId, takeSync } from './person-budgets.js';

/** Past this many updates after the snapshot (a log that was never snapshotted), apply and encode instead of merging them. */
const MAX_STORED_TAIL = 1000;
/** Yjs holds structs or deletions it could not place yet. */
const parked = (ydoc: Y.Doc): boolean => ydoc.store.pendingStructs !== null || ydoc.store.pendingDs !== null;

/** A Yjs update with no structs and no deletions. */
const EMPTY_UPDATE = new Uint8Array([0, 0]);

export function docChannel(interviewId: string, doc: DocName): string {
  return doc === 'main' ? channelOf.all(interviewId) : channelOf.panel(interviewId);
}

export function documentHandlers(ctx: ServerContext): Handlers {
  const applyUpdate = async (socket: DuetSocket, { doc, update }: { doc: DocName; update: Uint8Array }) => {
    const { actor, interviewId } = socket.data;
    if (!can.writeDoc(actor.role, doc)) throw new DuetError('forbidden', `your role cannot edit the ${doc} document`);
    const room = await socket.data.room;
    if (room.interview.status === 'ended') {
      // Still acknowledged if the log has all of it: a client resends what it
      // sent just before the end and never heard back about (its node went
      // down, maybe after the commit), and learns that it was saved.
      await room.catchUp();
      const { missing, adds } = inspectUpdate(doc, update, room.doc(doc));
      if (!missing && !adds) return { ok: true as const };
      throw new DuetError('interview_ended', 'the interview has ended');
    }
    const ydoc = room.doc(doc);
    let { insertedChars, missing, adds, overlaps, writesAs } = inspectUpdate(doc, update, ydoc);
    // Structs under a client id not known here as the sender's: a new editor
    // of theirs (its first update), or structs the log has and this node has
    // not read yet (a resync carries other people's edits): the log says which.
    const notOwn = (clients: number[]) => clients.some((c) => room.editors.ownerKnown(doc, c) !== actor.sub);
    // It may depend on edits another node committed: read the log, then look
    // again. A paste (not typing: a read each would cost too much) reads it
    // anyway, since other nodes' commits reach this node's copy only then, and
    // one that depends on none of them (a new file, say) would be measured
    // against the size limit without them.
    if (missing || (adds && insertedChars >= LARGE_INSERTION_CHARS) || notOwn(writesAs)) {
      await room.catchUp();
      ({ insertedChars, missing, adds, overlaps, writesAs } = inspectUpdate(doc, update, room.doc(doc)));
      // Retryable: an honest client resyncs and sends the difference from the node's state.
      if (missing) throw new DuetError('unavailable', 'update depends on edits this node does not have; sync and send again');
    }
    if (overlaps) {
      // Part of a struct the node has: logged and broadcast as what it lacks.
      update = cutToMissing(update, room.doc(doc));
      ({ insertedChars, missing, adds, writesAs } = inspectUpdate(doc, update, room.doc(doc)));
      // diffUpdate writes a client's structs on from the cut without looking at their clocks; checked above, so never expected.
      if (missing) throw new DuetError('invalid_payload', 'update does not hold together once cut to what the node lacks');
    }
    // Everything in it is in the room's document, so already in the log (the
    // document holds committed events only): acknowledged, not logged again.
    if (!adds) return { ok: true as const };
    // New structs only under the sender's own editor ids (server/rooms/editor-ids.ts): an id no one has yet becomes theirs.
    for (const client of writesAs) {
      const owner = room.editors.ownerKnown(doc, client) ?? (await room.editors.claim(doc, client, actor.sub, () => takeEditorId(room, socket)));
      if (owner !== actor.sub) throw new DuetError('forbidden', `Yjs client id ${client} is another participant's editor; write under your own`);
    }
    // Text other sockets' updates are committing counts too: two pastes at
    // once, each within the limit alone, must not both pass.
    if (insertedChars > 0 && docChars(doc, ydoc) + room.charsInFlight[doc] + insertedChars > LIMITS.docChars) {
      throw new DuetError('too_large', `the ${doc} document would exceed ${LIMITS.docChars} characters`);
    }
    spendWriteBudget(ctx.config, room, socket, Math.max(update.byteLength, MIN_UPDATE_CHARGE_BYTES));
    const at = new Date().toISOString();
    // Durable first: apply, broadcast and ack only what the log holds.
    room.charsInFlight[doc] += insertedChars;
    let event: StoredEvent;
    try {
      ({ event } = await ctx.writer.append(interviewId, { type: 'doc', at, actor, doc, bin: update, data: { doc } }));
    } finally {
      room.charsInFlight[doc] -= insertedChars;
    }
    const parkedBefore = parked(room.doc(doc));
    room.applyCommitted(event);
    // The checks above keep out anything Yjs would park; one parked anyway would be retried, unchecked, by a later update.
    if (!parkedBefore && parked(room.doc(doc))) ctx.log.error({ interviewId, seq: event.seq }, 'a logged update left structs pending');
    socket.to(docChannel(interviewId, doc)).emit('doc:update', { doc, update });
    ctx.metrics.docUpdates.inc({ doc });
    room.snapshotIfDue(doc, ctx.config.snapshotEvery, at)?.catch(reportSnapshotFailure(ctx, interviewId));
    return { ok: true as const };
  };

  return {
    'doc:sync': handler(docSyncSchema, async (socket, { doc, stateVector }) => {
      takeSync(await socket.data.room, socket);
      return answerSync(ctx, socket, doc, stateVector);
    }),

    // One update at a time per socket, in order: a client's next edit builds on
    // its previous one, which must be in the room's document before the next is
    // checked for missing dependencies.
    'doc:update': handler(docUpdateSchema, (socket, payload) => {
      const turn = (socket.data.docQueue ?? Promise.resolve()).then(() => applyUpdate(socket, payload));
      socket.data.docQueue = turn.catch(() => {});
      return turn;
    }),
  };
}

/**
 * A client's sync of one document: what it lacks, and the node's state vector
 * so it can send what the node lacks. Asked with `doc:sync`, or in the
 * handshake (`auth.sync`), answered as soon as the socket is in the room.
 */
export async function answerSync(ctx: ServerContext, socket: DuetSocket, doc: DocName, stateVector: Uint8Array): Promise<DocSyncReply> {
  if (!can.readDoc(socket.data.actor.role, doc)) throw new DuetError('forbidden', `your role cannot read the ${doc} document`);
  let known: Map<number, number>;
  try {
    known = Y.decodeStateVector(stateVector);
  } catch {
    throw new DuetError('invalid_payload', 'stateVector is not a valid Yjs state vector');
  }
  // A fresh joiner of a room still loading gets its snapshot the moment it is
  // read: committed state, older than the answer below, which the client
  // integrates (its largest part of the join) while this node reads the log's
  // tail and finishes subscribing the socket.
  let sentEarly: Snapshot | undefined;
  const early = known.size === 0 ? ctx.rooms.snapshotWhileLoading(socket.data.interviewId, doc) : undefined;
  const snapshot = early && (await early);
  // With its state vector, the answer can be what the snapshot lacks.
  if (snapshot?.stateVector && socket.connected) {
    socket.emit('doc:update', { doc, update: snapshot.state });
    sentEarly = snapshot;
  }
  const [room] = await Promise.all([socket.data.room, socket.data.inChannels]);
  if (socket.disconnected) throw new DuetError('unavailable', 'disconnected while joining');
  // The socket is in the room now, so anything committed after a read of
  // the log that started since reaches it as a broadcast: for the join's
  // sync, such a read is enough, and the room's load often was one. A
  // later sync is asked because something may not have arrived (a lost
  // broadcast, a periodic check), so it reads the log afresh.
  const bit = 1 << DOC_NAMES.indexOf(doc);
  const firstSync = ((socket.data.syncedDocs ?? 0) & bit) === 0;
  socket.data.syncedDocs = (socket.data.syncedDocs ?? 0) | bit;
  await (firstSync ? room.readSince(socket.data.subscribedAt ?? Infinity) : room.catchUp());
  // A room this node has read but not applied yet (a cold load) answers from
  // the stored bytes. The node applies its own copy a moment after the joiner
  // has `session` too (Room.applyReadSoon), or as soon as something needs it.
  const stored = known.size === 0 ? room.storedDoc(doc, MAX_STORED_TAIL) : undefined;
  if (stored) {
    // A fresh joiner: the stored bytes as they are, as document updates ahead
    // of this answer, without decoding them.
    for (const update of stored.updates) if (update !== sentEarly?.state) socket.emit('doc:update', { doc, update });
    applySoon(ctx, socket, room);
    // It has everything committed up to the read above: nothing more to send.
    return { update: EMPTY_UPDATE, stateVector: stored.stateVector };
  }
  // A client that has part of the document (a reconnection, often the whole
  // panel's after their node went down): the stored bytes cut to what it lacks.
  const cut = known.size > 0 ? room.storedDiff(doc, stateVector, MAX_STORED_TAIL) : undefined;
  if (cut) {
    applySoon(ctx, socket, room);
    return cut;
  }
  if (known.size === 0 && !sentEarly) return { ...room.wholeDoc(doc) };
  const ydoc = room.doc(doc);
  const has = sentEarly ? sentEarly.stateVector! : stateVector;
  return { update: Y.encodeStateAsUpdate(ydoc, has), stateVector: Y.encodeStateVector(ydoc) };
}

/** After an answer from a cold load's stored bytes: the join schedules the apply if `session` is not out yet. */
function applySoon(ctx: ServerContext, socket: DuetSocket, room: Room): void {
  if (socket.data.joined) room.applyReadSoon(reportApplyFailure(ctx, socket.data.interviewId));
  else socket.data.sentStored = true;
}

/** The stored bytes did not apply: whoever uses the documents next gets the error; nothing else to do here. */
export function reportApplyFailure(ctx: ServerContext, interviewId: string): (err: unknown) => void {
  return (err) => ctx.log.error({ err, interviewId }, 'stored document bytes did not apply');
}
