/**
 * The start-up warm-up (server/rooms/yjs-warm-up.ts): the node serves joins
 * while it runs, says "warming up" on /readyz until it is done, and close()
 * stops it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { warmUpYjs } from '../server/rooms/yjs-warm-up.js';
import { api, connectClient, createInterview, mainFile, startNode, waitFor } from './helpers.js';

describe('Yjs warm-up at start-up', () => {
  it('is not ready until warm, and serves a join meanwhile', async () => {
    const node = await startNode({}, { warmUp: true });
    const early = await api(node.url, '/readyz');
    expect(early).toMatchObject({ status: 503, body: { status: 'not_ready', checks: { warmUp: 'warming up', store: 'ok' } } });

    const iv = await createInterview(node);
    const a = await connectClient(node.url, await iv.invite('candidate'));
    mainFile(a).insert(0, 'print(1)');
    await waitFor(() => a.provider.pending === 0);

    await node.server.warmedUp;
    expect(await api(node.url, '/readyz')).toMatchObject({ status: 200, body: { status: 'ready', checks: { warmUp: 'ok' } } });
    const b = await connectClient(node.url, await iv.invite('interviewer', 'Ada'));
    expect(b.text()).toBe('print(1)');
  });

  // Done already, or still slicing (it takes about a second): which comes first.
  const settledNow = (p: Promise<void>) => Promise.race([p.then(() => 'done'), new Promise((r) => setImmediate(() => r('running')))]);

  it('stops when the node closes', async () => {
    const node = await startNode({}, { warmUp: true, keepOpen: true });
    await node.close();
    expect(await settledNow(node.server.warmedUp)).toBe('done');
  });

  it('lets go of its made-up documents once done, though the node keeps the handle', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = () => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    const before = heap();
    const w = warmUpYjs();
    await w.done;
    // The documents alone are about 7 MB; what stays is compiled code.
    expect(heap() - before).toBeLessThan(3 * 1024 * 1024);
    expect(w).toBeDefined();
  });

  it('stops at once when asked', async () => {
    const w = warmUpYjs();
    expect(await settledNow(w.done)).toBe('running');
    w.stop();
    expect(await settledNow(w.done)).toBe('done');
  });
});
