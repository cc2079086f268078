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
 * A reconnection is a `prepare` (a client holding the document as this
 * process's last join of that room ended up with, not connected yet), then,
 * some time later, a `join` with `reconnect` and the same id: as a client
 * whose node went down has had its document a while, the work and garbage of
 * building it are not in the time.
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
  /** Connect the client `prepare` made with this id. */
  reconnect?: boolean;
};

/** A client holding the document of the last join of `room` that succeeded (it must have had one), not connected until its `join`. */
export type PrepareRequest = Omit<JoinRequest, 'type' | 'expected' | 'reconnect'> & { type: 'prepare' };

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

/** Clients `prepare` made, by id: `connect` opens the connection. */
const prepared = new Map<number, { client: BenchClient; connect: () => void }>();

function prepare(req: PrepareRequest): { type: 'prepare'; id: number; error?: string } {
  const state = lastState.get(req.room);
  if (!state) return { type: 'prepare', id: req.id, error: 'no earlier join of this room to reconnect with' };
  let connect!: () => void;
  const gate = new Promise<void>((resolve) => (connect = resolve));
  // The client's first sync carries the state vector of `state`, applied now.
  const spec = { url: req.url, room: req.room, token: req.token, state, connectAfter: gate };
  const client = req.system === 'duet' ? connectDuet(spec) : connectHocuspocus(spec);
  prepared.set(req.id, { client, connect });
  return { type: 'prepare', id: req.id };
}

async function join(req: JoinRequest, open: Map<number, BenchClient>): Promise<JoinReply> {
  const ready = req.reconnect ? prepared.get(req.id) : undefined;
  if (req.reconnect && !ready) return { type: 'join', id: req.id, error: 'no client prepared with this id' };
  prepared.delete(req.id);
  const started = performance.now();
  const spec = { url: req.url, room: req.room, token: req.token };
  let c: BenchClient | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    c = ready ? ready.client : req.system === 'duet' ? connectDuet(spec) : connectHocuspocus(spec);
    ready?.connect();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('join timeout')), 30_000);
    });
    await Promise.race([Promise.all([c.synced, whenText(c, req.expected.length)]), timeout]);
    // A prepared client's time starts as its connection does: it was built before.
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
if (!send) throw new Error('bench/joiner.ts runs as a child of the bench, with an IPC channel');
const open = new Map<number, BenchClient>();
process.on('message', (m: JoinRequest | PrepareRequest | { type: 'close'; id: number }) => {
  if (m.type === 'prepare') {
    send(prepare(m));
    return;
  }
  if (m.type === 'close') {
    open.get(m.id)?.close();
    open.delete(m.id);
    send({ type: 'close', id: m.id });
    return;
  }
  void join(m, open).then((reply) => send(reply));
});
send({ type: 'ready' });
