/**
 * Cursors and selections (y-protocols awareness). The node keeps each room's
 * awareness so a joiner gets everyone's current cursor, and so a departed
 * client's cursor can be removed for everyone.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness';
import { DuetError } from '../../shared/errors.js';
import type { Actor } from '../../shared/protocol.js';
import { can, DOC_NAMES, type DocName } from '../../shared/roles.js';
import { awarenessSchema, awarenessStateSchema, type AwarenessState } from '../../shared/schemas.js';
import type { ServerContext } from '../context.js';
import type { Room } from '../rooms/room.js';
import { docChannel } from './documents.js';
import { handler, type Handlers } from './handle.js';
import { takeEditorId } from './person-budgets.js';
import type { DuetSocket } from './socket-data.js';

export function awarenessHandlers(ctx: ServerContext): Handlers {
  return {
    awareness: handler(awarenessSchema, async (socket, { doc, update }) => {
      const { actor, interviewId } = socket.data;
      if (!can.readDoc(actor.role, doc)) throw new DuetError('forbidden', `your role cannot use the ${doc} document`);
      const room = await socket.data.room;
      const awareness = room.awareness(doc);
      // y-protocols applies entry by entry and throws at a bad one, keeping the
      // ones before it without telling anyone (found by fuzzing): check it all first.
      const entries = readEntries(update);
      if (!entries) throw new DuetError('invalid_payload', 'update is not a valid awareness update');
      if (!entries.every((e) => e.state === null || awarenessStateSchema.safeParse(e.state).success)) {
        throw new DuetError('invalid_payload', 'an awareness state holds a user and a cursor ({file, selections: [{anchor, head}]}), nothing else');
      }
      const owners = ownersOf(room, doc);
      // Ids this update gives the socket, removals too: a reconnected page
      // removes its own state first (provider.ts), and y-protocols keeps a
      // record of every id it hears of, removed or not, so made-up ones count.
      // Checked before the claims (no database work for what is refused
      // anyway) and again after them, right before the apply.
      const checkHere = (): Set<number> => {
        const claimed = new Set<number>();
        for (const { clientId } of entries) {
          const owner = owners.get(clientId);
          if (owner && owner !== socket && owner.connected && owner.data.actor.sub !== actor.sub) {
            throw new DuetError('forbidden', 'that awareness client id is another participant\'s');
          }
          if (owner !== socket) claimed.add(clientId);
        }
        if (claimed.size > 0 && countOwned(owners, socket) + claimed.size > MAX_IDS_PER_SOCKET) {
          throw new DuetError('invalid_payload', `a connection announces at most ${MAX_IDS_PER_SOCKET} awareness client ids per document`);
        }
        return claimed;
      };
      checkHere();
      await checkEditorIds(room, socket, doc, entries);
      if (socket.disconnected) throw new DuetError('unavailable', 'disconnected');
      const claimed = checkHere();
      const bound = encodeEntries(entries.map((e) => ({ ...e, state: e.state && withIdentity(e.state, actor) })));
      const touched: number[] = [];
      const track = ({ added, updated }: { added: number[]; updated: number[] }, origin: unknown) => {
        if (origin === socket) touched.push(...added, ...updated);
      };
      awareness.on('update', track);
      try {
        applyAwarenessUpdate(awareness, bound, socket);
      } catch {
        throw new DuetError('invalid_payload', 'update is not a valid awareness update');
      } finally {
        awareness.off('update', track);
      }
      // The same person's new connection (a reconnect the node has not noticed
      // yet) takes an id over: the old socket's leave then leaves it be.
      for (const id of [...touched, ...claimed]) owners.set(id, socket);
      socket.to(docChannel(interviewId, doc)).emit('awareness', { doc, update: bound });
      return { ok: true };
    }),
  };
}

/**
 * A cursor under a client id is relayed only once the id is the sender's,
 * claimed now (no one else can have learnt it before), whatever their role:
 * so nobody can write under it first, nor pose as its cursor from another
 * node (server/rooms/editor-ids.ts).
 */
async function checkEditorIds(room: Room, socket: DuetSocket, doc: DocName, entries: Entry[]): Promise<void> {
  const { actor } = socket.data;
  const charge = () => takeEditorId(room, socket);
  for (const { clientId, state } of entries) {
    // A removal claims nothing (a reconnected page removes its own state
    // first, then sends it again), but another's id is theirs to remove.
    const editor =
      room.editors.ownerKnown(doc, clientId) ??
      (await (state === null ? room.editors.owner(doc, clientId, charge) : room.editors.claim(doc, clientId, actor.sub, charge)));
    if (editor !== undefined && editor !== actor.sub) throw new DuetError('forbidden', "that awareness client id is another participant's");
  }
}

interface Entry {
  clientId: number;
  clock: number;
  state: AwarenessState | null;
}

/** Every entry of an awareness update (client id, clock, JSON state), or undefined if any does not decode. */
function readEntries(update: Uint8Array): Entry[] | undefined {
  try {
    const decoder = decoding.createDecoder(update);
    const count = decoding.readVarUint(decoder);
    const entries: Entry[] = [];
    for (let i = 0; i < count; i++) {
      const clientId = decoding.readVarUint(decoder);
      const clock = decoding.readVarUint(decoder);
      entries.push({ clientId, clock, state: JSON.parse(decoding.readVarString(decoder)) as AwarenessState | null });
    }
    return entries;
  } catch {
    return undefined;
  }
}

/** y-protocols' awareness update layout (docs/protocol.md). */
function encodeEntries(entries: Entry[]): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, entries.length);
  for (const e of entries) {
    encoding.writeVarUint(encoder, e.clientId);
    encoding.writeVarUint(encoder, e.clock);
    encoding.writeVarString(encoder, JSON.stringify(e.state));
  }
  return encoding.toUint8Array(encoder);
}

/**
 * A state's `user` is who the token says, whatever the client wrote, and
 * every state has one: a caret label is not a way to pass the candidate a
 * note, to pose as someone else, or to be there without a name. The client's
 * colour is kept when it is one.
 */
function withIdentity(state: AwarenessState, actor: Actor): AwarenessState {
  const color = (state.user as { color?: unknown } | null | undefined)?.color;
  return {
    user: { sub: actor.sub, name: actor.name, role: actor.role, ...(typeof color === 'string' && /^#[0-9a-f]{6}$/i.test(color) ? { color } : {}) },
    ...(state.cursor !== undefined ? { cursor: state.cursor } : {}),
  };
}

/**
 * A page has one awareness client id per document (its Y.Doc's); a few more
 * leave room for a Yjs client id that changed. Without a bound, a client could
 * announce made-up ids by the hundred in every update, each state kept by the
 * node until it leaves and sent to every joiner.
 */
const MAX_IDS_PER_SOCKET = 4;

function countOwned(owners: Map<number, DuetSocket>, socket: DuetSocket): number {
  let n = 0;
  for (const owner of owners.values()) if (owner === socket) n++;
  return n;
}

/** Which socket on this node set each awareness client id of a room's document. */
function ownersOf(room: Room, doc: DocName): Map<number, DuetSocket> {
  return room.awarenessOwners[doc] as Map<number, DuetSocket>;
}

/** Current cursors of a document, for a joining socket. */
export function sendAwarenessState(socket: DuetSocket, room: Room, doc: DocName): void {
  const states = room.awareness(doc).getStates();
  if (states.size === 0) return;
  socket.emit('awareness', { doc, update: encodeAwarenessUpdate(room.awareness(doc), [...states.keys()]) });
}

/** Removes a leaving socket's cursors here and on every other client. */
export function clearAwareness(ctx: ServerContext, socket: DuetSocket, room: Room): void {
  for (const doc of DOC_NAMES) {
    const owners = ownersOf(room, doc);
    const ids = [...owners].filter(([, owner]) => owner === socket).map(([id]) => id);
    if (ids.length === 0) continue;
    for (const id of ids) owners.delete(id);
    room.removeAwareness(doc, ids);
    // Removed states are encoded with a bumped clock and a null state.
    const update = encodeAwarenessUpdate(room.awareness(doc), ids);
    ctx.io.to(docChannel(socket.data.interviewId, doc)).emit('awareness', { doc, update });
  }
}
