/**
 * Group commit of the event log. Everything queued in one I/O turn, across
 * all interviews on this node, goes into one transaction (one fsync); acks
 * wait for it. Each interview has at most one transaction in flight, so this
 * node's commits for it land (and are applied and broadcast) in seq order.
 * Groups do not wait for each other: while one commits, the next turn's
 * events for other interviews form the next group, so a slow interview holds
 * up only the interviews that share its group.
 */
import { DuetError } from '../../shared/errors.js';
import type { Interview } from '../../shared/protocol.js';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { InterviewPatch, NewEvent, Store, StoredEvent } from '../store/store.js';
import { logLevelOf } from '../store/unreachable.js';

interface Pending {
  event: NewEvent;
  patch: InterviewPatch | undefined;
  resolve: (result: { event: StoredEvent; interview: Interview }) => void;
  reject: (err: unknown) => void;
}

interface Queue {
  pending: Pending[];
  /** A transaction holding this interview's events is in flight. */
  busy: boolean;
}

interface Part {
  interviewId: string;
  queue: Queue;
  batch: Pending[];
}

/** Events in one group transaction (SQLite allows ~32k bound values, 10 per event). */
const MAX_GROUP_EVENTS = 1000;

export class EventWriter {
  /** Interviews with events queued or in flight. */
  private readonly queues = new Map<string, Queue>();
  private scheduled = false;
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
      this.schedule();
    });
  }

  /** Resolves when nothing is queued or being written (for graceful shutdown). */
  idle(): Promise<void> {
    if (this.queues.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate lets every event of this I/O turn join the group.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const group: Part[] = [];
    let size = 0;
    for (const [interviewId, queue] of this.queues) {
      if (queue.busy || queue.pending.length === 0) continue;
      if (queue.pending[0]!.patch) {
        // A patch (language, end) commits alone so it applies exactly where it stands in the order.
        queue.busy = true;
        void this.commit([{ interviewId, queue, batch: queue.pending.splice(0, 1) }], true);
        continue;
      }
      if (size >= MAX_GROUP_EVENTS) {
        this.schedule();
        break;
      }
      const firstPatched = queue.pending.findIndex((p) => p.patch !== undefined);
      const take = Math.min(firstPatched === -1 ? queue.pending.length : firstPatched, MAX_GROUP_EVENTS - size);
      queue.busy = true;
      const batch = queue.pending.splice(0, take);
      size += batch.length;
      group.push({ interviewId, queue, batch });
    }
    if (group.length > 0) void this.commit(group, false);
  }

  private async commit(group: Part[], patched: boolean): Promise<void> {
    const stop = this.metrics.storeWrite.startTimer();
    try {
      if (patched) {
        const { interviewId, batch } = group[0]!;
        try {
          const { events, interview } = await this.store.append(interviewId, [batch[0]!.event], {
            requireOpen: true,
            patch: batch[0]!.patch!,
          });
          this.resolve(batch, events, interview);
        } catch (err) {
          this.fail(group, err);
        }
        return;
      }
      try {
        const results = await this.store.appendMany(
          group.map((g) => ({ interviewId: g.interviewId, events: g.batch.map((p) => p.event) })),
          { requireOpen: true },
        );
        group.forEach((g, i) => {
          const r = results[i]!;
          if ('error' in r) for (const p of g.batch) p.reject(r.error);
          else this.resolve(g.batch, r.events, r.interview);
        });
      } catch (err) {
        this.fail(group, err);
      }
    } finally {
      stop();
      for (const g of group) this.release(g.interviewId, g.queue);
    }
  }

  private resolve(batch: Pending[], events: StoredEvent[], interview: Interview): void {
    batch.forEach((p, i) => {
      this.metrics.events.inc({ type: p.event.type });
      p.resolve({ event: events[i]!, interview });
    });
  }

  private fail(group: Part[], err: unknown): void {
    const failure = err instanceof DuetError ? err : new DuetError('unavailable', 'the event log is unavailable; retry later');
    if (!(err instanceof DuetError)) this.log[logLevelOf(err)]({ err, interviews: group.map((g) => g.interviewId) }, 'event log write failed');
    for (const g of group) for (const p of g.batch) p.reject(failure);
  }

  private release(interviewId: string, queue: Queue): void {
    queue.busy = false;
    if (queue.pending.length > 0) {
      this.schedule();
      return;
    }
    this.queues.delete(interviewId);
    if (this.queues.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
