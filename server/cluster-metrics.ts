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

const ASK = 'duet:metrics-ask';
const COLLECT = 'duet:metrics-collect';
const PART = 'duet:metrics-part';
const ANSWER = 'duet:metrics-answer';

/** How long the primary waits for every worker's part; a scrape after that fails rather than undercounts. */
const COLLECT_TIMEOUT_MS = 3000;

type Message = { type?: unknown; id?: unknown; metrics?: unknown; text?: unknown; error?: unknown };

function isMessage(value: unknown, type: string): value is Message {
  return typeof value === 'object' && value !== null && (value as Message).type === type;
}

/** In the primary: answers a worker's ask with the merged metrics of `workers()`. */
export function serveClusterMetrics(workers: () => Worker[]): (worker: Worker, message: unknown) => void {
  let next = 0;
  return (asker, message) => {
    if (!isMessage(message, ASK)) return;
    const askId = message.id;
    const answer = (reply: { text: string } | { error: string }) => {
      if (asker.isConnected()) asker.send({ type: ANSWER, id: askId, ...reply });
    };
    const targets = workers().filter((w) => w.isConnected());
    const id = next++;
    // One array of metrics per worker, as getMetricsAsJSON() made it.
    const parts: object[] = [];
    let pending = targets.length;
    const done = () => {
      clearTimeout(timer);
      for (const w of targets) w.off('message', onPart);
    };
    const timer = setTimeout(() => {
      done();
      answer({ error: `${pending} of ${targets.length} workers did not answer` });
    }, COLLECT_TIMEOUT_MS);
    const onPart = (reply: unknown) => {
      if (!isMessage(reply, PART) || reply.id !== id) return;
      parts.push(reply.metrics as object);
      if (--pending > 0) return;
      done();
      AggregatorRegistry.aggregate(parts)
        .metrics()
        .then(
          (text) => answer({ text }),
          (err: unknown) => answer({ error: String(err) }),
        );
    };
    for (const w of targets) {
      w.on('message', onPart);
      w.send({ type: COLLECT, id });
    }
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
      void shared?.getMetricsAsJSON().then((metrics) => process.send?.({ type: PART, id: message.id, metrics }));
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
      process.send?.({ type: ASK, id });
    });
  return { text, share: (registry) => (shared = registry) };
}
