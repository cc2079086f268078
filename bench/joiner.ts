/**
 * The client side of the join scenario, in a process of its own, as a
 * joiner is a browser tab of its own: timed in the orchestrator, a join
 * shared the process (and its garbage collector) with everything the
 * orchestrator holds and did, the seeded histories included. A scheduler
 * trace of those runs (perf sched) found the slowest joins were the
 * orchestrator's own GC threads taking both cores while its client
 * integrated the document.
 *
 * Requests over IPC, one at a time: `join` (connect, time until the client
 * has synced, its `session` for Duet, and the whole text; answer the time
 * and whether the text is the expected one; keep the client open), `close`.
 * A `join` with `reconnect` starts from the document as this process's last
 * join of that room ended up with, as a client whose node went down does.
 */
import * as Y from 'yjs';
import { connectDuet, connectHocuspocus, textOf, type BenchClient } from './clients.js';
import type { SystemName } from './workload.js';

// A type, not an interface: IPC messages are plain records.
export type JoinRequest = {
  type: 'join';
  id: number;
  system: SystemName;
  url: string;
  room: string;
  token: string;
  /** The text the client must end up with. */
  expected: string;
  /** Start from the document of the last join of `room` that succeeded (it must have had one). */
  reconnect?: boolean;
};

export interface JoinReply {
  type: 'join';
  id: number;
  /** Connect -> synced with the whole text, ms; undefined if it failed. */
  ms?: number;
  /** The whole text arrived but differs from `expected`. */
  differs?: boolean;
  error?: string;
}

function whenText(c: BenchClient, length: number): Promise<void> {
  // Every transaction, not a poll: a poll's interval would be timed too.
  if (textOf(c)?.length === length) return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (textOf(c)?.length !== length) return;
      c.doc.off('afterTransaction', check);
      resolve();
    };
    c.doc.on('afterTransaction', check);
  });
}

/** Each room's document as the last join of it that succeeded had it, for `reconnect`. */
const lastState = new Map<string, Uint8Array>();

async function join(req: JoinRequest, open: Map<number, BenchClient>): Promise<JoinReply> {
  const state = req.reconnect ? lastState.get(req.room) : undefined;
  if (req.reconnect && !state) return { type: 'join', id: req.id, error: 'no earlier join of this room to reconnect with' };
  let started = performance.now();
  // Timed from the connection's start: the client's first sync carries the
  // state vector of `state`, applied before it. A client that reconnects has
  // had its document a while: the collection its building leaves behind is
  // not the join's, so it is done first.
  const settled = state ? new Promise<void>((resolve) => setImmediate(() => (gc(), resolve()))) : undefined;
  const spec = { url: req.url, room: req.room, token: req.token, state, connectAfter: settled, onConnecting: state ? () => (started = performance.now()) : undefined };
  let c: BenchClient | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    c = req.system === 'duet' ? connectDuet(spec) : connectHocuspocus(spec);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('join timeout')), 30_000);
    });
    await Promise.race([Promise.all([c.synced, whenText(c, req.expected.length)]), timeout]);
    const ms = performance.now() - started;
    open.set(req.id, c);
    lastState.set(req.room, Y.encodeStateAsUpdate(c.doc));
    return { type: 'join', id: req.id, ms, differs: textOf(c)!.toString() !== req.expected };
  } catch (err) {
    c?.close();
    return { type: 'join', id: req.id, error: String(err) };
  } finally {
    clearTimeout(timer);
  }
}

const send = process.send?.bind(process);
const gc = globalThis.gc ?? (() => {}); // the bench starts this process with --expose-gc
if (!send) throw new Error('bench/joiner.ts runs as a child of the bench, with an IPC channel');
const open = new Map<number, BenchClient>();
process.on('message', (m: JoinRequest | { type: 'close'; id: number }) => {
  if (m.type === 'close') {
    open.get(m.id)?.close();
    open.delete(m.id);
    send({ type: 'close', id: m.id });
    return;
  }
  void join(m, open).then((reply) => send(reply));
});
send({ type: 'ready' });
