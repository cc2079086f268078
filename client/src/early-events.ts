/**
 * Broadcasts that can reach a socket before its first `session`: the node
 * puts the socket in the interview's channels, then reads the interview and
 * the chat for `session`, and anything committed after those reads is sent as
 * a broadcast, possibly before `session` is. The room and its listeners are
 * built on `session`, so those events are kept until then and handed to the
 * listeners registered since; dropped, a chat message or a language change
 * sent while someone joined would never show on their page.
 */
import type { DuetClientSocket } from '../../shared/provider.js';

/** What the room shows from broadcasts; `participants` is not kept: a full list always follows a join. */
const KEPT = new Set(['chat:message', 'interview', 'signal']);
/** A bound, for a page left on a screen before its room (the ended-interview screen). */
const MAX_KEPT = 1000;

export interface EarlyEvents {
  /** Stops keeping, and hands what was kept, in order, to the socket's listeners of each event. */
  replay(): void;
}

export function keepEarlyEvents(socket: DuetClientSocket): EarlyEvents {
  const kept: Array<{ event: string; args: unknown[] }> = [];
  const keep = (event: string, ...args: unknown[]) => {
    if (KEPT.has(event) && kept.length < MAX_KEPT) kept.push({ event, args });
  };
  socket.onAny(keep);
  return {
    replay() {
      socket.offAny(keep);
      // Untyped: the events are replayed as they came, to whoever listens to each.
      const listeners = (event: string) => (socket as unknown as { listeners(e: string): Array<(...a: unknown[]) => void> }).listeners(event);
      for (const { event, args } of kept.splice(0)) for (const fn of listeners(event)) fn(...args);
    },
  };
}
