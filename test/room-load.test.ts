/**
 * A cold load reads the log from the lowest snapshot of the interview's
 * documents, so every document is snapshotted together: a `notes` nobody
 * wrote must not send each cold join back to the start of a long log. And
 * snapshots keep coming when other events (chat, another node's edits) fall
 * between a node's own edits.
 */
import { describe, expect, it } from 'vitest';
import { Room } from '../server/rooms/room.js';
import type { Store } from '../server/store/store.js';
import { startCluster } from './fixtures/multi-node.js';
import { createInterview, connectClient, mainFile, startNode, waitFor, type TestClient } from './helpers.js';

async function typeAndSettle(client: TestClient, count: number, tag: string): Promise<void> {
  for (let i = 0; i < count; i++) mainFile(client).insert(mainFile(client).length, `${tag}${i} `);
  await waitFor(() => client.provider.pending === 0);
}

async function lastSeq(store: Store, id: string): Promise<number> {
  const events = await store.readEvents(id, {});
  return events.at(-1)!.seq;
}

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

  it('keeps snapshotting when chat falls between the edits', async () => {
    const node = await startNode({ snapshotEvery: 10 });
    const iv = await createInterview(node);
    const a = await connectClient(node.url, await iv.invite('candidate'));
    const store = node.server.ctx.store;
    const id = iv.interview.id;
    await typeAndSettle(a, 5, 'a');
    const ack = await a.socket.timeout(5000).emitWithAck('chat:send', { channel: 'room', text: 'one moment' });
    expect(ack).toMatchObject({ message: { text: 'one moment' } });
    const chatSeq = await lastSeq(store, id);
    await typeAndSettle(a, 30, 'b');
    // The chat message is not a document edit, so this node never applied it:
    // without reading the log, the snapshot would have to wait for a client's resync.
    const snap = await waitFor(async () => {
      const s = await store.latestSnapshot(id, 'main');
      expect(s?.seq ?? 0).toBeGreaterThan(chatSeq);
      return s!;
    });
    const room = await Room.load(store, iv.interview);
    try {
      expect(room.docs.main.ydoc.getMap('files').toJSON()['main.ts']).toBe(a.text());
      expect(snap.seq).toBeLessThanOrEqual(await lastSeq(store, id));
    } finally {
      room.destroy();
    }
  });

  it('keeps snapshotting while writers on two nodes type at once', async () => {
    const { nodes } = await startCluster(2, { snapshotEvery: 10 });
    const iv = await createInterview(nodes[0]!);
    const a = await connectClient(nodes[0]!.url, await iv.invite('candidate'));
    const b = await connectClient(nodes[1]!.url, await iv.invite('interviewer', 'Ada'));
    const store = nodes[0]!.server.ctx.store;
    const id = iv.interview.id;
    // One at the end, one at the start, a keystroke each every few ms: each
    // node's commits are interleaved with the other's.
    await Promise.all(
      [a, b].map(async (c, k) => {
        for (let i = 0; i < 40; i++) {
          mainFile(c).insert(k === 0 ? mainFile(c).length : 0, `${k}.${i} `);
          await new Promise((r) => setTimeout(r, 3));
        }
        await waitFor(() => c.provider.pending === 0);
      }),
    );
    await waitFor(() => expect(b.text()).toBe(a.text()));
    const last = await lastSeq(store, id);
    await waitFor(async () => expect((await store.latestSnapshot(id, 'main'))?.seq ?? 0).toBeGreaterThan(last - 25));
    const room = await Room.load(store, iv.interview);
    try {
      expect(room.docs.main.ydoc.getMap('files').toJSON()['main.ts']).toBe(a.text());
    } finally {
      room.destroy();
    }
  });
});
