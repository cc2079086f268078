/**
 * A worker that dies logs no `leave` for its connections. Left to the
 * heartbeat (server/realtime/dead-nodes.ts), the replay would show its people
 * online twice over for NODE_DEAD_AFTER_SECONDS: on the dead worker and on the
 * one they reconnected to. The primary sees the death at once, so each worker
 * tells it the node ids its joins name, and on a worker's exit the primary
 * hands them to a live worker, which logs their leaves.
 */
import type { Worker } from 'node:cluster';
import type { DuetServer } from './app.js';
import { isMessage, sendToPrimary } from './cluster-ipc.js';

const NODE_ID = 'duet:node-id';
const EXITED = 'duet:nodes-exited';

/**
 * In the primary. `live()`: the workers that can take the sweep (the ready
 * ones). A dead worker's ids wait for one when there is none (a cluster of
 * one, its worker being replaced).
 */
export function trackWorkerNodes(live: () => Worker[]): {
  onMessage(worker: Worker, message: unknown): void;
  /** A worker exited; `unasked` (not in a shutdown, not a failed start): its connections' leaves are logged by another. */
  onExit(worker: Worker, unasked: boolean): void;
  /** A worker became ready: it takes whatever waits for one. */
  onReady(): void;
} {
  const ids = new Map<Worker, Set<string>>();
  let waiting: string[] = [];
  let next = 0;
  const note = (worker: Worker, more: Iterable<string>) => {
    const own = ids.get(worker) ?? new Set<string>();
    for (const id of more) own.add(id);
    ids.set(worker, own);
  };
  const handOn = () => {
    // Not one whose channel has closed: its exit is on its way.
    const workers = live().filter((w) => w.isConnected() && !w.isDead());
    if (waiting.length === 0 || workers.length === 0) return;
    const sweeper = workers[next++ % workers.length]!;
    const sent = waiting;
    waiting = [];
    // Its own as well from now on: should it die, they are handed on again (a repeat claims
    // nothing once they are swept).
    note(sweeper, sent);
    // Sent to a worker that has just died too: they wait for the next exit (its own) or ready
    // worker, not handed on at once, which could bounce between dying workers without end.
    sweeper.send({ type: EXITED, ids: sent }, (err: Error | null) => {
      if (!err) return;
      for (const id of sent) ids.get(sweeper)?.delete(id);
      waiting.push(...sent);
    });
  };
  return {
    onMessage(worker, message) {
      if (!isMessage(message, NODE_ID) || typeof message.id !== 'string' || worker.isDead()) return;
      // Every id it has had: one it gave up may still name joins no one has logged a leave for.
      note(worker, [message.id]);
    },
    onExit(worker, unasked) {
      const gone = ids.get(worker);
      ids.delete(worker);
      if (!gone || !unasked) return;
      waiting.push(...gone);
      handOn();
    },
    onReady: () => handOn(),
  };
}

/** In a worker: reports its node ids to the primary and sweeps the ids of workers that died. */
export function workerNodeIds(): {
  /** For ServerOptions.onNodeId. */
  report(id: string): void;
  /** Takes the primary's word that a worker died. */
  listen(server: DuetServer): void;
} {
  return {
    report(id) {
      sendToPrimary({ type: NODE_ID, id });
    },
    listen(server) {
      process.on('message', (message: unknown) => {
        if (!isMessage(message, EXITED)) return;
        const { ids } = message;
        if (Array.isArray(ids)) server.nodesExited(ids.filter((id): id is string => typeof id === 'string'));
      });
    },
  };
}
