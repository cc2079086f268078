/**
 * Broadcasts that can reach a socket before its `session`: on every
 * connection the node puts the socket in the interview's channels, then reads
 * the interview and the chat for `session`, and anything committed after
 * those reads is sent as a broadcast, possibly before `session` is. Before
 * the first `session` there is no room yet to listen (it is built on it), so
 * such an event would be dropped; after a reconnection the room applies it,
 * then `session`'s older copy of the interview would overwrite it. So each
 * connection's events until its `session` are kept, and handed again to the
 * room's listeners once `session` is applied. Applying one twice is
 * harmless: chat and notices are deduplicated by id, and the interview is a
 * whole state.
 */
import type { DuetClientSocket } from '../../shared/provider.js';

/** What the room shows from broadcasts; `participants` is not kept: a full list always follows a join. */
const KEPT = new Set(['chat:message', 'interview', 'signal']);
/** A bound, for a page left on a screen before its room (the ended-interview screen); the newest are kept. */
const MAX_KEPT = 1000;

export interface EarlyEvents {
  /**
   * Call once `session` is applied (the room built, or updated after a
   * reconnection): hands what this connection kept, in order, to the
   * socket's listeners of each event, and keeps nothing more until the next
   * connection.
   */
  replay(): void;
}

export function keepEarlyEvents(socket: DuetClientSocket): EarlyEvents {
  let kept: Array<{ event: string; args: unknown[] }> = [];
  let keeping = true;
  socket.onAny((event: string, ...args: unknown[]) => {
    if (!keeping || !KEPT.has(event)) return;
    kept.push({ event, args });
    if (kept.length > MAX_KEPT) kept.shift();
  });
  // What a lost connection kept may be older than the next one's `session`.
  socket.on('disconnect', () => {
    kept = [];
    keeping = true;
  });
  // Untyped: the events are replayed as they came, to whoever listens to each.
  const listeners = (event: string) => (socket as unknown as { listeners(e: string): Array<(...a: unknown[]) => void> }).listeners(event);
  return {
    replay() {
      keeping = false;
      const events = kept;
      kept = [];
      for (const { event, args } of events) for (const fn of listeners(event)) fn(...args);
    },
  };
}
