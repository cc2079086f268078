/**
 * The primary's bookkeeping of its workers' node ids (server/cluster-dead-workers.ts),
 * with stand-in workers: which worker gets a dead one's ids, and that a hand-over
 * that fails waits for the next worker instead of bouncing between dying ones.
 * The whole path, with real worker processes, is in multi-node-processes.test.ts.
 */
import type { Worker } from 'node:cluster';
import { describe, expect, it } from 'vitest';
import { trackWorkerNodes } from '../server/cluster-dead-workers.js';

/** A worker as the tracker sees it: its channel, and what was sent to it. */
function standIn(name: string, channel: 'open' | 'closed' | 'fails' = 'open') {
  const sent: unknown[] = [];
  const worker = {
    name,
    isConnected: () => channel !== 'closed',
    isDead: () => false,
    send(message: unknown, callback: (err: Error | null) => void) {
      if (channel === 'open') sent.push(message);
      // Node answers on the next tick; a turn later here, so a hand-over that bounced between
      // failing workers shows as more tries instead of freezing the test.
      setImmediate(callback, channel === 'open' ? null : new Error('channel closed'));
      return true;
    },
  };
  return { worker: worker as unknown as Worker, sent };
}

const idMessage = (id: string) => ({ type: 'duet:node-id', id });
const tick = () => new Promise((r) => setImmediate(r));

describe("the primary's record of its workers' node ids", () => {
  it("hands every id a dead worker had to one ready worker; a worker stopped on purpose hands nothing", async () => {
    const a = standIn('a');
    const b = standIn('b');
    const ready = [a.worker];
    const tracker = trackWorkerNodes(() => ready);
    tracker.onMessage(b.worker, idMessage('b-1'));
    tracker.onMessage(b.worker, idMessage('b-2')); // renewed: both may name joins
    tracker.onMessage(b.worker, { type: 'something else', id: 'x' });
    tracker.onExit(b.worker, true);
    await tick();
    expect(a.sent).toEqual([{ type: 'duet:nodes-exited', ids: ['b-1', 'b-2'] }]);
    // a's own now: should a die, its next sweeper gets them (with a's own id).
    tracker.onMessage(a.worker, idMessage('a-1'));
    const c = standIn('c');
    ready.splice(0, 1, c.worker);
    tracker.onExit(a.worker, true);
    await tick();
    expect(c.sent).toEqual([{ type: 'duet:nodes-exited', ids: ['b-1', 'b-2', 'a-1'] }]);
    tracker.onMessage(c.worker, idMessage('c-1'));
    tracker.onExit(c.worker, false);
    await tick();
    expect(c.sent).toHaveLength(1);
  });

  it('skips a worker whose channel has closed, and after a failed send waits for the next worker rather than bouncing', async () => {
    const dying = standIn('dying', 'fails');
    const closed = standIn('closed', 'closed');
    const gone = standIn('gone');
    const ready: Worker[] = [closed.worker, dying.worker];
    let asked = 0;
    const tracker = trackWorkerNodes(() => (asked++, ready));
    tracker.onMessage(gone.worker, idMessage('g-1'));
    tracker.onExit(gone.worker, true);
    for (let i = 0; i < 5; i++) await tick();
    // One try, at the one worker with an open channel; its failure did not start another round.
    expect(asked).toBe(1);
    expect(closed.sent).toEqual([]);
    // The next worker ready gets them.
    const next = standIn('next');
    ready.push(next.worker);
    tracker.onReady();
    await tick();
    expect(next.sent).toEqual([{ type: 'duet:nodes-exited', ids: ['g-1'] }]);
  });
});
