/**
 * Cursors and selections (y-protocols awareness). The node keeps each room's
 * awareness so a joiner gets everyone's current cursor, and so a departed
 * client's cursor can be removed for everyone.
 */
import * as decoding from 'lib0/decoding';
import { applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness';
import { DuetError } from '../../shared/errors.js';
import { can, DOC_NAMES, type DocName } from '../../shared/roles.js';
import { awarenessSchema } from '../../shared/schemas.js';
import type { ServerContext } from '../context.js';
import type { Room } from '../rooms/room.js';
import { docChannel } from './documents.js';
import { handler, type Handlers } from './handle.js';
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
      if (!decodesFully(update)) throw new DuetError('invalid_payload', 'update is not a valid awareness update');
      const touched: number[] = [];
      const track = ({ added, updated }: { added: number[]; updated: number[] }, origin: unknown) => {
        if (origin === socket) touched.push(...added, ...updated);
      };
      awareness.on('update', track);
      try {
        applyAwarenessUpdate(awareness, update, socket);
      } catch {
        throw new DuetError('invalid_payload', 'update is not a valid awareness update');
      } finally {
        awareness.off('update', track);
      }
      if (touched.length > 0) {
        const ids = ((socket.data.awarenessIds ??= {})[doc] ??= new Set());
        for (const id of touched) ids.add(id);
      }
      socket.to(docChannel(interviewId, doc)).emit('awareness', { doc, update });
      return { ok: true };
    }),
  };
}

/** Does every entry of an awareness update decode (client id, clock, JSON state)? */
function decodesFully(update: Uint8Array): boolean {
  try {
    const decoder = decoding.createDecoder(update);
    const entries = decoding.readVarUint(decoder);
    for (let i = 0; i < entries; i++) {
      decoding.readVarUint(decoder);
      decoding.readVarUint(decoder);
      JSON.parse(decoding.readVarString(decoder));
    }
    return true;
  } catch {
    return false;
  }
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
    const ids = [...(socket.data.awarenessIds?.[doc] ?? [])];
    if (ids.length === 0) continue;
    room.removeAwareness(doc, ids);
    // Removed states are encoded with a bumped clock and a null state.
    const update = encodeAwarenessUpdate(room.awareness(doc), ids);
    ctx.io.to(docChannel(socket.data.interviewId, doc)).emit('awareness', { doc, update });
  }
}
