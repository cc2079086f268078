/**
 * Broadcasts that can reach a socket before its `session`: on every
 * connection the node puts the socket in the interview's channels, then reads
 * the interview and the chat for `session`, and anything committed after
 * those reads is sent as a broadcast, possibly before `session` is. Before
 * the first `session` there is no room yet to listen (it is built on it), so
 * such an event would be dropped; after a reconnection the room applies it,
 * then `session`'s older copy of the interview would overwrite it. So each
 * connection's room events until its `session` are kept, and handed again,
 * in the order they came, to the room's listeners once `session` is applied.
 * Applying one twice is harmless: chat and notices are deduplicated by id,
 * run output by its offset; a list, a run state or a last run received
 * later replaces one received earlier; and an interview or run settings
 * older (by `seq`) than those shown are ignored, so a replayed change never
 * puts back a state older than `session`'s.
 */
import type { DuetClientSocket } from '../../shared/provider.js';

/** The room's events, each of which can be applied twice (`run:output` by its offset). */
const KEPT = new Set(['chat:message', 'interview', 'signal', 'participants', 'run:settings', 'run:state', 'run:output', 'run:exit', 'run:last']);
/** A bound, for a page left on a screen before its room (the ended-interview screen); the newest are kept. */
const MAX_KEPT = 1000;

export interface EarlyEvents {
  /**
   * Call once a `session` is applied (the room built, or updated after a
   * reconnection): hands what was kept, in order, to the socket's listeners
   * of each event. Keeping goes on until this connection's own `session`
   * has come (a room built from an earlier connection's, on the
   * ended-interview screen, may be replayed into before it), and starts
   * again with the next connection.
   */
  replay(): void;
}

export function keepEarlyEvents(socket: DuetClientSocket): EarlyEvents {
  let kept: Array<{ event: string; args: unknown[] }> = [];
  let keeping = true;
  /** This connection's `session` has come; seen here before any listener of it runs (Socket.IO calls `onAny` first). */
  let sessionCame = false;
  socket.onAny((event: string, ...args: unknown[]) => {
    if (event === 'session') sessionCame = true;
    if (!keeping || !KEPT.has(event)) return;
    // Output from a node before offsets would be shown twice.
    if (event === 'run:output' && typeof (args[0] as { offset?: unknown } | undefined)?.offset !== 'number') return;
    kept.push({ event, args });
    if (kept.length > MAX_KEPT) kept.shift();
  });
  // What a lost connection kept may be older than the next one's `session`.
  socket.on('disconnect', () => {
    kept = [];
    keeping = true;
    sessionCame = false;
  });
  // Untyped: the events are replayed as they came, to whoever listens to each.
  const listeners = (event: string) => (socket as unknown as { listeners(e: string): Array<(...a: unknown[]) => void> }).listeners(event).slice();
  return {
    replay() {
      keeping = !sessionCame;
      const events = kept;
      kept = [];
      for (const { event, args } of events) for (const fn of listeners(event)) fn(...args);
    },
  };
}
