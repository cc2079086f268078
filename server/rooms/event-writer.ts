/**
 * Group commit of the event log. Events queued in the same tick for one
 * interview go into one transaction; acks wait for it. Each interview has at
 * most one transaction in flight, so this node's commits for it land (and are
 * applied and broadcast) in seq order, and a slow interview never holds up
 * another one's writes.
 */
import { DuetError } from '../../shared/errors.js';
import type { Interview } from '../../shared/protocol.js';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { InterviewPatch, NewEvent, Store, StoredEvent } from '../store/store.js';

interface Pending {
  event: NewEvent;
  patch: InterviewPatch | undefined;
  resolve: (result: { event: StoredEvent; interview: Interview }) => void;
  reject: (err: unknown) => void;
}

interface Queue {
  pending: Pending[];
  busy: boolean;
}

export class EventWriter {
  private readonly queues = new Map<string, Queue>();
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly store: Store,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** Resolves once the event is committed; refuses with `interview_ended` once the interview is over. */
  append(interviewId: string, event: NewEvent, patch?: InterviewPatch): Promise<{ event: StoredEvent; interview: Interview }> {
    return new Promise((resolve, reject) => {
      let queue = this.queues.get(interviewId);
      if (!queue) {
        queue = { pending: [], busy: false };
        this.queues.set(interviewId, queue);
      }
      queue.pending.push({ event, patch, resolve, reject });
      if (!queue.busy) {
        queue.busy = true;
        this.inFlight++;
        // setImmediate lets every event of this I/O turn join the batch.
        setImmediate(() => void this.drain(interviewId, queue!));
      }
    });
  }

  /** Resolves when nothing is queued or being written (for graceful shutdown). */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(interviewId: string, queue: Queue): Promise<void> {
    while (queue.pending.length > 0) {
      // A patch (language, end) commits alone so it applies exactly where it stands in the order.
      const firstPatched = queue.pending.findIndex((p) => p.patch !== undefined);
      const take = firstPatched === 0 ? 1 : firstPatched === -1 ? queue.pending.length : firstPatched;
      const batch = queue.pending.splice(0, take);
      const stop = this.metrics.storeWrite.startTimer();
      try {
        const { events, interview } = await this.store.append(
          interviewId,
          batch.map((p) => p.event),
          { requireOpen: true, ...(batch[0]!.patch ? { patch: batch[0]!.patch } : {}) },
        );
        stop();
        batch.forEach((p, i) => {
          this.metrics.events.inc({ type: p.event.type });
          p.resolve({ event: events[i]!, interview });
        });
      } catch (err) {
        stop();
        const failure =
          err instanceof DuetError ? err : new DuetError('unavailable', 'the event log is unavailable; retry later');
        if (!(err instanceof DuetError)) this.log.error({ err, interviewId }, 'event log write failed');
        for (const p of batch) p.reject(failure);
      }
    }
    queue.busy = false;
    this.queues.delete(interviewId);
    if (--this.inFlight === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
