/**
 * /metrics for a whole cluster: the worker that takes the request asks the
 * primary, the primary gathers every ready worker's registry and merges them
 * with prom-client's own rules (counters, gauges and histograms summed, event
 * loop lag averaged, the version taken once), so a scrape of any worker tells
 * the machine's sockets and rooms, not that worker's.
 *
 * Own messages rather than prom-client's cluster listeners: those ask every
 * connected worker, so one still starting (waiting for Redis, say) would hold
 * every scrape until their 5 s timeout.
 */
import type { Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { ignoreSendError, isMessage, sendToPrimary } from './cluster-ipc.js';

const ASK = 'duet:metrics-ask';
const COLLECT = 'duet:metrics-collect';
const PART = 'duet:metrics-part';
const ANSWER = 'duet:metrics-answer';

/** How long the primary waits for every worker's part; a scrape after that fails rather than undercounts. */
const COLLECT_TIMEOUT_MS = 3000;

type Reply = { text: string } | { error: string };

interface Gathering {
  waiting: Set<Worker>;
  /** One array of metrics per worker, as getMetricsAsJSON() made it. */
  parts: object[];
  answer(reply: Reply): void;
  timer: NodeJS.Timeout;
}

/**
 * In the primary: answers a worker's ask with the merged metrics of
 * `workers()` (the ready ones). `onMessage` takes every worker's messages
 * (cluster's 'message'), `onExit` every worker's exit.
 */
export function serveClusterMetrics(workers: () => Worker[]): {
  onMessage(worker: Worker, message: unknown): void;
  onExit(worker: Worker): void;
} {
  let next = 0;
  const gathering = new Map<number, Gathering>();
  const settle = (id: number, reply: Reply) => {
    const g = gathering.get(id);
    if (!g) return;
    gathering.delete(id);
    clearTimeout(g.timer);
    g.answer(reply);
  };
  const completeIfDone = (id: number) => {
    const g = gathering.get(id);
    if (!g || g.waiting.size > 0) return;
    clearTimeout(g.timer); // every part is in: the merge's own failure is the answer, not a timeout
    let merged: Promise<string>;
    try {
      merged = AggregatorRegistry.aggregate(g.parts).metrics();
    } catch (err) {
      // A part it cannot merge (it throws at once): a failed scrape, not a dead primary.
      merged = Promise.reject(err);
    }
    merged.then(
      (text) => settle(id, { text }),
      (err: unknown) => settle(id, { error: `could not merge the workers' metrics: ${String(err)}` }),
    );
  };
  const start = (asker: Worker, askId: unknown) => {
    const answer = (reply: Reply) => {
      // With a callback: a send to a worker that has just died fails there, not as an 'error' nobody handles.
      if (asker.isConnected()) asker.send({ type: ANSWER, id: askId, ...reply }, undefined, ignoreSendError);
    };
    const targets = workers().filter((w) => w.isConnected());
    if (targets.length === 0) return answer({ error: 'no worker is ready' });
    const id = next++;
    const timer = setTimeout(() => {
      const g = gathering.get(id);
      settle(id, { error: `${g?.waiting.size ?? 0} of ${targets.length} workers did not answer` });
    }, COLLECT_TIMEOUT_MS);
    gathering.set(id, { waiting: new Set(targets), parts: [], answer, timer });
    for (const w of targets) w.send({ type: COLLECT, id }, undefined, ignoreSendError); // its exit ends the wait for it
  };
  return {
    onMessage(worker, message) {
      if (isMessage(message, ASK)) return start(worker, message.id);
      if (!isMessage(message, PART) || typeof message.id !== 'number') return;
      const g = gathering.get(message.id);
      if (!g?.waiting.delete(worker)) return;
      if (typeof message.error === 'string') return settle(message.id, { error: `a worker could not read its metrics: ${message.error}` });
      g.parts.push(message.metrics as object);
      completeIfDone(message.id);
    },
    onExit(worker) {
      // Gone mid-scrape: the rest are the machine now (its sockets went with it).
      for (const [id, g] of gathering) if (g.waiting.delete(worker)) completeIfDone(id);
    },
  };
}

/**
 * In a worker: `text` is what /metrics serves, the cluster's merged metrics
 * (asked of the primary); `share` gives the primary this worker's registry
 * when it gathers, once the node that owns the registry is built.
 */
export function workerClusterMetrics(): { text: () => Promise<string>; share: (registry: Registry) => void } {
  const waiting = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
  let next = 0;
  let shared: Registry | undefined;
  process.on('message', (message: unknown) => {
    if (isMessage(message, COLLECT)) {
      const id = message.id;
      if (!shared) return sendToPrimary({ type: PART, id, error: 'not started yet' });
      shared.getMetricsAsJSON().then(
        (metrics) => sendToPrimary({ type: PART, id, metrics }),
        (err: unknown) => sendToPrimary({ type: PART, id, error: String(err) }),
      );
    } else if (isMessage(message, ANSWER) && typeof message.id === 'number') {
      const asked = waiting.get(message.id);
      waiting.delete(message.id);
      if (typeof message.text === 'string') asked?.resolve(message.text);
      else asked?.reject(new Error(String(message.error)));
    }
  });
  const text = () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      // The primary always answers (its own timeout is shorter); this only covers a primary gone.
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('the primary did not answer'));
      }, COLLECT_TIMEOUT_MS + 2000);
      waiting.set(id, {
        resolve: (text) => (clearTimeout(timer), resolve(text)),
        reject: (err) => (clearTimeout(timer), reject(err)),
      });
      sendToPrimary({ type: ASK, id });
    });
  return { text, share: (registry) => (shared = registry) };
}
