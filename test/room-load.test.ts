/**
 * A cold load reads the log from the lowest snapshot of the interview's
 * documents, so every document is snapshotted together: a `notes` nobody
 * wrote must not send each cold join back to the start of a long log.
 */
import { describe, expect, it } from 'vitest';
import { Room } from '../server/rooms/room.js';
import { createInterview, connectClient, mainFile, startNode, waitFor } from './helpers.js';

describe('snapshots and cold loads', () => {
  it('snapshots notes along with main, and a cold load reads only the tail', async () => {
    const node = await startNode({ snapshotEvery: 10 });
    const iv = await createInterview(node);
    const a = await connectClient(node.url, await iv.invite('candidate'));
    for (let i = 0; i < 45; i++) mainFile(a).insert(mainFile(a).length, `${i} `);
    await waitFor(() => a.provider.pending === 0);
    const store = node.server.ctx.store;
    const id = iv.interview.id;
    const main = await waitFor(async () => (await store.latestSnapshot(id, 'main'))?.seq ?? 0, 5000);
    await waitFor(async () => ((await store.latestSnapshot(id, 'notes'))?.seq ?? -1) === main);

    let readFrom = Infinity;
    const counting = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'readEvents') {
          return (iid: string, q: { after?: number }) => {
            readFrom = Math.min(readFrom, q.after ?? 0);
            return target.readEvents(iid, q);
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const room = await Room.load(counting, iv.interview);
    try {
      expect(readFrom).toBeGreaterThanOrEqual(main);
      expect(room.docs.main.ydoc.getMap('files').toJSON()['main.ts']).toBe(a.text());
    } finally {
      room.destroy();
    }
  });
});
