/**
 * Who has joined an interview, and who is online now (across every node).
 *
 * The list changes on every join and leave. Announced with the list read
 * for each change, two changes close together race: the reads answer in any
 * order, and from two nodes the announcements arrive in any order, so a list
 * read before the other change could be the last one shown, leaving someone
 * out (or offline) for good. So each node sends the list to its own sockets
 * only, and reads it again after every change anywhere, told by the node
 * where it happened once the change is written; a change while a read is in
 * flight makes one more read after it. Every node's last read then begins
 * after the last change it was told of, and its sockets end with the list as
 * it stands. A change counts from when it is visible to a read: a joiner's row
 * written and its socket in the channels, a socket out of them (Socket.IO
 * takes it out before `disconnect`). A node that dies tells no one; its
 * sockets drop out of the next list read anywhere.
 */
import type { Actor, Participant } from '../../shared/protocol.js';
import { channelOf, socketsHere, type ServerContext } from '../context.js';

const PEER_EVENT = 'duet:participants:changed';
const ONLINE = 'duet:participants:online';
/** How long a list waits for the other nodes' sockets; a node that has not answered by then has its people shown offline. */
const ONLINE_TIMEOUT_MS = 1500;

/** The interview's participants, each marked online if a socket of theirs is in it on any node that answered in time. */
export async function listParticipants(ctx: ServerContext, interviewId: string): Promise<{ list: Participant[]; complete: boolean }> {
  const [known, elsewhere] = await Promise.all([
    ctx.store.listParticipants(interviewId),
    ctx.peers ? ctx.peers.ask<string[]>(ONLINE, interviewId, { timeoutMs: ONLINE_TIMEOUT_MS }) : { answers: [], complete: true },
  ]);
  const online = new Set([...onlineHere(ctx, interviewId), ...elsewhere.answers.flatMap((subs) => (Array.isArray(subs) ? subs : []))]);
  return { list: known.map((p) => ({ ...p, online: online.has(p.sub) })), complete: elsewhere.complete };
}

/** Who has a socket in the interview on this node. */
function onlineHere(ctx: ServerContext, interviewId: string): string[] {
  return socketsHere(ctx, interviewId).flatMap((s) => s.data.actor?.sub ?? []);
}

/**
 * A joiner's own `session` list: read alongside its row being written, so
 * the row may be missing or carry an old name; the joiner goes in, online,
 * under the name and role its row is being given. Lists read after the join
 * (ParticipantLists.changed, once the row is written) are read whole.
 */
export function withParticipant(list: Participant[], actor: Actor, at: string): Participant[] {
  const i = list.findIndex((p) => p.sub === actor.sub);
  const me: Participant = { sub: actor.sub, name: actor.name, role: actor.role, online: true, firstSeen: list[i]?.firstSeen ?? at };
  return i < 0 ? [...list, me] : list.map((p, k) => (k === i ? me : p));
}

export interface ParticipantLists {
  /** Someone joined or left on this node: their row is written and their socket in or out of the channels. */
  changed(interviewId: string): void;
}

/** A read that failed (the database down) or went without some node's answer is tried again, a few times. */
const RETRY_MS = 1000;
const RETRIES = 5;

export function createParticipantLists(ctx: ServerContext): ParticipantLists {
  /** Interviews whose list this node is reading; `again` when it changed meanwhile. */
  const reading = new Map<string, { again: boolean }>();
  const { peers } = ctx;
  peers?.on(PEER_EVENT, (interviewId: unknown) => {
    if (typeof interviewId === 'string') refreshHere(interviewId);
  });
  peers?.answer(ONLINE, (interviewId) => (typeof interviewId === 'string' ? onlineHere(ctx, interviewId) : []));

  /** Reads the list and sends it to this node's sockets of the interview; resolves false if a read failed. */
  async function readAndSend(interviewId: string, state: { again: boolean }): Promise<boolean> {
    try {
      let complete: boolean;
      do {
        state.again = false;
        const read = await listParticipants(ctx, interviewId);
        complete = read.complete;
        ctx.io.local.to(channelOf.all(interviewId)).emit('participants', read.list);
      } while (state.again);
      // Sent all the same: people on a node that did not answer show as offline until it does.
      return complete;
    } catch (err) {
      ctx.log.warn({ err, interviewId }, 'could not read the participant list');
      return false;
    }
  }

  function refreshHere(interviewId: string, retries = RETRIES): void {
    const inFlight = reading.get(interviewId);
    if (inFlight) {
      inFlight.again = true;
      return;
    }
    // Nobody of this interview on this node: nobody here to tell.
    if (!ctx.io.sockets.adapter.rooms.has(channelOf.all(interviewId))) return;
    const state = { again: false };
    reading.set(interviewId, state);
    void readAndSend(interviewId, state).then((ok) => {
      reading.delete(interviewId);
      // The failed read may have been the one after the last change.
      if (!ok && retries > 0) setTimeout(() => refreshHere(interviewId, retries - 1), RETRY_MS).unref();
    });
  }

  return {
    changed(interviewId) {
      peers?.tell(PEER_EVENT, interviewId);
      refreshHere(interviewId);
    },
  };
}
