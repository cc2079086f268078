/**
 * A cold load reads the log from the lowest snapshot of the interview's
 * documents, so every document is snapshotted together: a `notes` nobody
 * wrote must not send each cold join back to the start of a long log. And
 * snapshots keep coming when other events (chat, another node's edits) fall
 * between a node's own edits.
 */
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Room } from '../server/rooms/room.js';
import type { Snapshot, Store } from '../server/store/store.js';
import type { Interview } from '../shared/protocol.js';
import * as Y from 'yjs';
import { DuetProvider, toBytes } from '../shared/provider.js';
import { keepTyping, startCluster, tokensOf, typistOn } from './fixtures/multi-node.js';
import { createInterview, connectClient, connectSocket, holdLogReads, mainFile, nextEvent, startNode, tempDir, waitFor, type TestClient } from './helpers.js';

async function typeAndSettle(client: TestClient, count: number, tag: string): Promise<void> {
  for (let i = 0; i < count; i++) mainFile(client).insert(mainFile(client).length, `${tag}${i} `);
  // Generous: a thousand acknowledged edits on a busy 2-core CI machine (a wait, not a speed check).
  await waitFor(() => client.provider.pending === 0, 30_000);
}

/** One keystroke per update: each acknowledged before the next is typed. */
async function typeOneByOne(client: TestClient, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    mainFile(client).insert(mainFile(client).length, 'q');
    await waitFor(() => client.provider.pending === 0);
  }
}

/** The seq of the main document's newest snapshot, once there is one newer than `after`. */
async function latestMainSnapshot(store: Store, id: string, after = 0): Promise<number> {
  return (await waitFor(async () => {
    const seq = (await store.latestSnapshot(id, 'main'))?.seq ?? 0;
    return seq > after && seq;
  }, 5000)) as number;
}

/** The file's text in a room loaded cold from the store, as a node would load it. */
async function loadedText(store: Store, interview: Interview): Promise<string | undefined> {
  const room = await Room.load(store, interview.id, interview);
  try {
    return room.doc('main').getMap<Y.Text>('files').get('main.ts')?.toString();
  } finally {
    room.destroy();
  }
}

/** The file's text in a Yjs update applied to an empty document. */
function textOf(update: Uint8Array): string | undefined {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, update);
  return doc.getMap<Y.Text>('files').get('main.ts')?.toString();
}

/** The seq of the newest document edit. */
async function lastSeqOfDocs(store: Store, id: string): Promise<number> {
  const events = await store.readEvents(id, {});
  return events.filter((e) => e.type === 'doc').at(-1)!.seq;
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
    expect(await loadedText(counting, iv.interview)).toBe(a.text());
    expect(readFrom).toBeGreaterThanOrEqual(main);
  });

  it('snapshots a room when its last socket leaves, if a tenth of SNAPSHOT_EVERY came since the last snapshot', async () => {
    const node = await startNode({ snapshotEvery: 100 });
    const iv = await createInterview(node);
    const store = node.server.ctx.store;
    const id = iv.interview.id;
    const a = await connectClient(node.url, await iv.invite('candidate'));
    await typeAndSettle(a, 25, 'a');
    const text = a.text();
    const lastEdit = (await store.readEvents(id, { type: 'doc' })).at(-1)!.seq;
    expect((await store.latestSnapshot(id, 'main'))?.seq ?? 0).toBeLessThan(lastEdit);

    a.provider.destroy();
    a.socket.disconnect();
    const snap = (await waitFor(async () => {
      const s = await store.latestSnapshot(id, 'main');
      return s !== undefined && s.seq >= lastEdit && s;
    })) as Snapshot;
    const stored = new Y.Doc();
    Y.applyUpdate(stored, snap.state);
    expect(stored.getMap<Y.Text>('files').get('main.ts')!.toString()).toBe(text);
    expect((await store.latestSnapshot(id, 'notes'))!.seq).toBe(snap.seq);

    // Fewer than that since: no new snapshot when the room empties again.
    const b = await connectClient(node.url, await iv.invite('candidate'));
    await typeAndSettle(b, 3, 'b');
    b.provider.destroy();
    b.socket.disconnect();
    await new Promise((r) => setTimeout(r, 300));
    expect((await store.latestSnapshot(id, 'main'))!.seq).toBe(snap.seq);
  });

  it('a last socket leaving a room whose stored bytes do not apply is logged as a leave, and the node carries on', async () => {
    const node = await startNode({ snapshotEvery: 10 });
    const iv = await createInterview(node);
    const store = node.server.ctx.store;
    const id = iv.interview.id;
    // What no node would log (every update is checked first): bytes Yjs cannot read.
    const actor = { sub: 'x', name: 'X', role: 'candidate' as const };
    await store.append(id, [{ type: 'doc', at: new Date().toISOString(), actor, doc: 'main', bin: new Uint8Array([1, 2, 3, 250]), data: { doc: 'main' } }], {
      requireOpen: true,
    });
    const socket = connectSocket(node.url, await iv.invite('candidate'));
    const session = await nextEvent<{ you: { sub: string } }>(socket, 'session');
    socket.disconnect();
    await waitFor(async () => (await store.readEvents(id, { type: 'leave' })).some((e) => e.actor.sub === session.you.sub));
    const again = connectSocket(node.url, await iv.invite('interviewer'));
    await nextEvent(again, 'session');
    again.disconnect();
  });

  it('once stored bytes have failed to apply, fresh joiners are refused rather than sent them', async () => {
    const node = await startNode({ snapshotEvery: 10 }, { coldApplyAfterMs: 20 });
    const iv = await createInterview(node);
    // A snapshot of bytes Yjs cannot read (what no node would write), with a state vector.
    const store = node.server.ctx.store;
    const id = iv.interview.id;
    const seq = await lastSeq(store, id);
    const at = new Date().toISOString();
    await store.saveSnapshot(id, { doc: 'main', seq, state: new Uint8Array([1, 2, 3, 250]), stateVector: Y.encodeStateVector(new Map([[7, 5]])) }, at);
    const empty = new Y.Doc();
    await store.saveSnapshot(id, { doc: 'notes', seq, state: Y.encodeStateAsUpdate(empty), stateVector: Y.encodeStateVector(empty) }, at);
    const sync = async (socket: ReturnType<typeof connectSocket>) => {
      await nextEvent(socket, 'session');
      return socket.timeout(5000).emitWithAck('doc:sync', { doc: 'main', stateVector: Y.encodeStateVector(new Y.Doc()) });
    };
    // The first fresh joiner is sent the bytes as stored (nothing is decoded before it is answered)...
    const first = connectSocket(node.url, await iv.invite('observer', 'o1'));
    expect(await sync(first)).toEqual({ update: expect.anything(), stateVector: expect.anything() });
    // ...and once the node has found they do not apply, nobody else is.
    await new Promise((r) => setTimeout(r, 200));
    const second = connectSocket(node.url, await iv.invite('observer', 'o2'));
    const updates: unknown[] = [];
    second.on('doc:update', (u) => updates.push(u));
    expect(await sync(second)).toMatchObject({ error: { code: 'internal' } });
    expect(updates).toEqual([]);
  });

  it('keeps one snapshot per document, and snapshots a large document only when what came since is an eighth of it', async () => {
    const node = await startNode({ snapshotEvery: 10 });
    const iv = await createInterview(node);
    const a = await connectClient(node.url, await iv.invite('candidate'));
    const id = iv.interview.id;
    const store = node.server.ctx.store;
    const db = new SQLite(join(node.config.dataDir, 'duet.sqlite'), { readonly: true });
    onTestFinished(() => void db.close());
    const rows = () => db.prepare('SELECT doc, seq FROM snapshots WHERE interview_id = ? ORDER BY doc').all(id) as Array<{ doc: string; seq: number }>;
    // A large paste, then keystrokes: the first ten make a snapshot (the paste is all of it).
    mainFile(a).insert(0, 'x'.repeat(200_000));
    await typeAndSettle(a, 9, 'k');
    const first = await latestMainSnapshot(store, id);
    // A hundred keystrokes more are far from an eighth of 200 KB: no snapshot of it again.
    await typeAndSettle(a, 100, 'k');
    await new Promise((r) => setTimeout(r, 300));
    expect((await store.latestSnapshot(id, 'main'))?.seq).toBe(first);
    // Thirty KB more is: a new one, and the old ones are gone.
    for (let i = 0; i < 10; i++) mainFile(a).insert(0, `${i}`.repeat(3000));
    await waitFor(() => a.provider.pending === 0);
    await latestMainSnapshot(store, id, first);
    await waitFor(() => rows().length === 2 && rows()[0]!.seq === rows()[1]!.seq);
    expect(rows().map((r) => r.doc)).toEqual(['main', 'notes']);
    // The room loads from it as before.
    expect(await loadedText(store, iv.interview)).toBe(a.text());
  });

  it('snapshots a document by its updates as well as their bytes: keystrokes cost a load more than their bytes say', async () => {
    const node = await startNode({ snapshotEvery: 10 });
    const iv = await createInterview(node);
    const a = await connectClient(node.url, await iv.invite('candidate'));
    const id = iv.interview.id;
    const store = node.server.ctx.store;
    mainFile(a).insert(0, 'x'.repeat(60_000));
    await typeAndSettle(a, 9, 'k');
    const first = await latestMainSnapshot(store, id);
    // ~30 bytes each, so 130 are a sixteenth of the 60 KB in bytes, but at
    // 512 bytes an update they are worth more than the snapshot.
    await typeOneByOne(a, 130);
    const next = await latestMainSnapshot(store, id, first);
    expect(next - first).toBeGreaterThan(110);
    expect(await loadedText(store, iv.interview)).toBe(a.text());
  });

  it('snapshots a document whose room empties after keystrokes worth more than their bytes, so the next load reads no tail', async () => {
    const node = await startNode(); // a room that empties snapshots after 50 updates
    const iv = await createInterview(node);
    const token = await iv.invite('candidate');
    const id = iv.interview.id;
    const store = node.server.ctx.store;
    const a = await connectClient(node.url, token);
    mainFile(a).insert(0, 'x'.repeat(20_000));
    await typeOneByOne(a, 55);
    a.socket.disconnect();
    const first = await latestMainSnapshot(store, id);
    // 60 keystrokes are far from an eighth of 20 KB in bytes, and worth 30 KB by their count.
    const b = await connectClient(node.url, token);
    await typeOneByOne(b, 60);
    b.socket.disconnect();
    expect((await latestMainSnapshot(store, id, first)) - first).toBeGreaterThanOrEqual(60);
    const room = await Room.load(store, id, iv.interview);
    try {
      expect(room.storedDoc('main', 10)?.updates).toHaveLength(1);
    } finally {
      room.destroy();
    }
  });

  it('a large document is not written again for the other one\'s snapshot: marked as of the new seq when unchanged, left behind when it changed a little', async () => {
    const node = await startNode({ snapshotEvery: 10 });
    const iv = await createInterview(node);
    const a = await connectClient(node.url, await iv.invite('candidate'));
    const ida = await connectClient(node.url, iv.token, ['main', 'notes']);
    const id = iv.interview.id;
    const db = new SQLite(join(node.config.dataDir, 'duet.sqlite'), { readonly: true });
    onTestFinished(() => void db.close());
    // A row written again gets a new rowid; one marked as of a later seq keeps it.
    const row = (doc: string) => db.prepare('SELECT rowid, seq FROM snapshots WHERE interview_id = ? AND doc = ?').all(id, doc) as Array<{ rowid: number; seq: number }>;
    const notes = ida.provider.doc('notes').getText('notes');
    notes.insert(0, 'n'.repeat(200_000));
    await waitFor(() => ida.provider.pending === 0);
    // The next snapshot of main writes the notes too (their last snapshot was small).
    await typeAndSettle(a, 30, 'a');
    const large = (await waitFor(() => (row('notes')[0]?.seq ?? 0) > 0 && row('notes'), 5000)) as Array<{ rowid: number; seq: number }>;
    expect(large).toHaveLength(1);
    // Unchanged since: marked as of main's next snapshots, not written again.
    await typeAndSettle(a, 30, 'b');
    await waitFor(() => row('main')[0]!.seq > large[0]!.seq, 5000);
    await waitFor(() => row('notes')[0]!.seq === row('main')[0]!.seq, 5000);
    expect(row('notes')).toEqual([{ rowid: large[0]!.rowid, seq: row('main')[0]!.seq }]);
    // A little of it changed: far from an eighth of it, so it stays where it is.
    const marked = row('notes')[0]!;
    notes.insert(0, 'x');
    await waitFor(() => ida.provider.pending === 0);
    await typeAndSettle(a, 30, 'c');
    await waitFor(() => row('main')[0]!.seq > marked.seq, 5000);
    await new Promise((r) => setTimeout(r, 200));
    expect(row('notes')).toEqual([marked]);
    // A cold load has both documents whole.
    const room = await Room.load(node.server.ctx.store, id, iv.interview);
    try {
      expect(room.doc('main').getMap<Y.Text>('files').get('main.ts')?.toString()).toBe(a.text());
      expect(room.doc('notes').getText('notes').toString()).toBe(notes.toString());
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
    // Exact: the snapshot holds precisely the document events up to its seq.
    const upTo = new Y.Doc();
    for (const e of await store.readEvents(id, {})) if (e.seq <= snap.seq && e.type === 'doc' && e.doc === 'main') Y.applyUpdate(upTo, e.bin!);
    const fromSnapshot = new Y.Doc();
    Y.applyUpdate(fromSnapshot, snap.state);
    expect(Y.encodeStateVector(fromSnapshot)).toEqual(Y.encodeStateVector(upTo));
    expect(fromSnapshot.getMap('files').toJSON()).toEqual(upTo.getMap('files').toJSON());
    expect(snap.stateVector).toEqual(Y.encodeStateVector(upTo));
    expect(await loadedText(store, iv.interview)).toBe(a.text());
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
    expect(await loadedText(store, iv.interview)).toBe(a.text());
  });

  it('sends a fresh joiner of a cold room the stored bytes ahead of an empty answer, and the join rule holds', async () => {
    const { nodes } = await startCluster(2, { snapshotEvery: 10 });
    const [n0, n1] = [nodes[0]!, nodes[1]!];
    const iv = await createInterview(n0);
    const writer = await typistOn(n0.url, await iv.invite('candidate'), 'w');
    const stopTyping = keepTyping([writer], 7);
    try {
      await waitFor(() => expect(writer.acked.size).toBeGreaterThan(25), 10_000);
      const tokens = await Promise.all(Array.from({ length: 6 }, (_, i) => iv.invite('observer', `j${i}`)));
      for (const token of tokens) {
        // Node 1 has nobody in the interview, so this join loads the room there.
        await waitFor(() => expect(n1.server.ctx.rooms.size).toBe(0));
        const mustHave = [...writer.acked];
        const socket = connectSocket(n1.url, token);
        const doc = new Y.Doc();
        socket.on('doc:update', ({ doc: name, update }) => {
          if (name === 'main') Y.applyUpdate(doc, toBytes(update));
        });
        await nextEvent(socket, 'session');
        const reply = await socket.timeout(5000).emitWithAck('doc:sync', { doc: 'main', stateVector: Y.encodeStateVector(doc) });
        if ('error' in reply) throw new Error(reply.error.message);
        // The snapshot and the log's tail came as updates; the answer adds nothing.
        expect(Array.from(toBytes(reply.update))).toEqual([0, 0]);
        Y.applyUpdate(doc, toBytes(reply.update));
        const text = () => doc.getMap<Y.Text>('files').get('main.ts')?.toString() ?? '';
        // The join rule: everything acknowledged before the join, the moment it is answered.
        const got = new Set(tokensOf(text()));
        expect(mustHave.filter((t) => !got.has(t))).toEqual([]);
        // And with the broadcasts that follow, it keeps up with the writer.
        const target = writer.client.text();
        await waitFor(() => expect(text().length).toBeGreaterThanOrEqual(target.length));
        socket.disconnect();
      }
    } finally {
      await stopTyping();
    }
    // With the real client: the state vector in the answer covers what the
    // stored bytes held, so the client finds nothing the server lacks and sends nothing back.
    await waitFor(() => expect(writer.client.provider.pending).toBe(0));
    await waitFor(() => expect(n1.server.ctx.rooms.size).toBe(0));
    const seqBefore = await lastSeq(n0.server.ctx.store, iv.interview.id);
    const ada = await connectClient(n1.url, await iv.invite('interviewer', 'Ada'));
    expect(ada.provider.pending).toBe(0);
    expect(ada.text()).toBe(writer.client.text());
    mainFile(ada).insert(0, '[ada]');
    await waitFor(() => expect(writer.client.text().startsWith('[ada]')).toBe(true));
    const after = await n0.server.ctx.store.readEvents(iv.interview.id, { after: seqBefore });
    // Its join, and its one keystroke: no copy of the document.
    expect(after.filter((e) => e.type === 'doc').map((e) => e.bin!.length < 100)).toEqual([true]);
  });

  it('answers every fresh joiner of a cold room from the stored bytes until the document is needed: an edit applies it at once, and otherwise it is applied a moment after the join', async () => {
    /** A fresh joiner's first sync: was it sent the stored bytes ahead of an empty answer, and with what text. */
    const freshJoin = async (url: string, token: string) => {
      const socket = connectSocket(url, token);
      const doc = new Y.Doc();
      let updatesBefore = 0;
      socket.on('doc:update', ({ doc: name, update }) => {
        if (name !== 'main') return;
        updatesBefore++;
        Y.applyUpdate(doc, toBytes(update));
      });
      await nextEvent(socket, 'session');
      const reply = await socket.timeout(5000).emitWithAck('doc:sync', { doc: 'main', stateVector: Y.encodeStateVector(doc) });
      if ('error' in reply) throw new Error(reply.error.message);
      const stored = updatesBefore > 0 && toBytes(reply.update).length === 2;
      Y.applyUpdate(doc, toBytes(reply.update));
      return { socket, stored, text: doc.getMap<Y.Text>('files').get('main.ts')?.toString() };
    };
    /** An interview typed into and left, so the next join on `node` loads it cold. */
    const typedAndLeft = async (node: Awaited<ReturnType<typeof startNode>>) => {
      const iv = await createInterview(node);
      const a = await connectClient(node.url, await iv.invite('candidate'));
      await typeAndSettle(a, 12, 'x');
      a.socket.disconnect();
      await waitFor(() => expect(node.server.ctx.rooms.size).toBe(0));
      return { iv, typed: a.text() };
    };

    // Nothing applies it by itself in this test: only a need for the document does.
    const node = await startNode({ snapshotEvery: 5 }, { coldApplyAfterMs: 60_000 });
    const { iv, typed } = await typedAndLeft(node);
    const first = await freshJoin(node.url, await iv.invite('observer', 'o1'));
    const second = await freshJoin(node.url, await iv.invite('observer', 'o2'));
    expect([first.stored, second.stored]).toEqual([true, true]);
    expect([first.text, second.text]).toEqual([typed, typed]);
    // An edit needs the document: applied at once, the edit on top of everything stored.
    const ada = await connectClient(node.url, await iv.invite('interviewer', 'Ada'));
    await typeAndSettle(ada, 1, 'late');
    const third = await freshJoin(node.url, await iv.invite('observer', 'o3'));
    expect(third.stored).toBe(false);
    expect(third.text).toBe(ada.text());
    expect(third.text).toBe(`${typed}late0 `);

    // With the default wait, a room nobody edits is applied a moment after its join.
    const other = await startNode({ snapshotEvery: 5 });
    const cold = await typedAndLeft(other);
    const joiner = await freshJoin(other.url, await cold.iv.invite('observer', 'o1'));
    expect(joiner.stored).toBe(true);
    await waitFor(async () => {
      const later = await freshJoin(other.url, await cold.iv.invite('observer', 'later'));
      later.socket.disconnect();
      expect(later.stored).toBe(false);
      expect(later.text).toBe(cold.typed);
    }, 5000, 50);
  });

  it('a client with part of a cold room\'s document (a reconnection) is answered with what it lacks, cut from the stored bytes, without the node applying them', async () => {
    // A snapshot and a tail after it, written on node 0; node 1 loads the room cold.
    const { nodes } = await startCluster(2, { snapshotEvery: 7 }, { coldApplyAfterMs: 60_000 });
    const [n0, n1] = [nodes[0]!, nodes[1]!];
    const iv = await createInterview(n0);
    const a = await connectClient(n0.url, await iv.invite('candidate'));
    await typeAndSettle(a, 4, 'early');
    const watcher = await connectClient(n1.url, await iv.invite('observer', 'w'));
    await waitFor(() => expect(watcher.text()).toBe(a.text()));
    // The watcher's node goes away for it; the interview goes on without it.
    watcher.socket.disconnect();
    await typeAndSettle(a, 10, 'late');
    await waitFor(() => expect(n1.server.ctx.rooms.size).toBe(0));
    const snapshot = await n0.server.ctx.store.latestSnapshot(iv.interview.id, 'main');
    expect(snapshot!.seq).toBeGreaterThan(0);
    expect(snapshot!.seq).toBeLessThan(await lastSeqOfDocs(n0.server.ctx.store, iv.interview.id));

    const answers: Uint8Array[] = [];
    watcher.socket.on('doc:sync', (answer) => void ('update' in answer && answers.push(toBytes(answer.update))));
    watcher.socket.connect();
    await waitFor(() => expect(watcher.text()).toBe(a.text()));
    expect(watcher.text()).toContain('late9');
    // What it lacked, not the whole document again: the text it had is not in the answer (an
    // update holds inserted text as it is). Not judged by size: the stored bytes are a snapshot
    // and a tail of separate updates, larger than the document encoded whole, by how much
    // depends on where the snapshot fell.
    expect(answers).toHaveLength(1);
    const answer = Buffer.from(answers[0]!);
    expect(answer.includes('late9')).toBe(true);
    expect(answer.includes('early')).toBe(false);
    expect(Buffer.from(Y.encodeStateAsUpdate(a.provider.doc('main'))).includes('early')).toBe(true); // the whole document would fail it
    // Answered, and this node has not applied what it read.
    const room = await n1.server.ctx.rooms.peek(iv.interview.id);
    expect(room!.storedDoc('main', 1000)).toBeDefined();
    // An edit afterwards applies it, on top of everything stored.
    const b = await connectClient(n1.url, await iv.invite('interviewer', 'Bo'));
    mainFile(b).insert(0, '[bo]');
    await waitFor(() => expect(a.text()).toBe(b.text()));
    await waitFor(() => expect(watcher.text()).toBe(b.text()));
    expect(room!.storedDoc('main', 1000)).toBeUndefined();
    expect(b.text().startsWith('[bo]early0 ')).toBe(true);
  });

  it("works out a cold room's stored answer once for all its joiners, and again once the log's tail grows", async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const id = iv.interview.id;
    const store = node.server.ctx.store;
    const a = await connectClient(node.url, await iv.invite('candidate'));
    const fresh = (doc: { updates: Uint8Array[] }) => {
      const d = new Y.Doc();
      for (const u of doc.updates) Y.applyUpdate(d, u);
      return d.getMap<Y.Text>('files').get('main.ts')?.toString();
    };
    // A tail of one update (the seed) is sent as it is; when it grows, what was sent stays as it was.
    const seeded = await Room.load(store, id, iv.interview);
    try {
      const answer = seeded.storedDoc('main', 1000)!;
      expect(answer.updates).toHaveLength(1);
      await typeOneByOne(a, 1);
      await seeded.catchUp();
      expect(answer.updates).toHaveLength(1);
      expect(seeded.storedDoc('main', 1000)!.updates).toHaveLength(1);
      expect(fresh(seeded.storedDoc('main', 1000)!)).toBe(a.text());
    } finally {
      seeded.destroy();
    }
    await typeOneByOne(a, 4);
    const room = await Room.load(store, id, iv.interview);
    try {
      const first = room.storedDoc('main', 1000)!;
      expect(fresh(first)).toBe(a.text());
      // The next joiner, and a reconnecting one, get the same bytes, not a second merge.
      expect(room.storedDoc('main', 1000)).toBe(first);
      const stale = new Y.Doc();
      Y.applyUpdate(stale, first.updates[0]!);
      expect(room.storedDiff('main', Y.encodeStateVector(stale), 1000)!.stateVector).toBe(first.stateVector);

      mainFile(a).insert(mainFile(a).length, 'late');
      await waitFor(() => a.provider.pending === 0);
      await room.catchUp();
      const second = room.storedDoc('main', 1000)!;
      expect(second).not.toBe(first);
      expect(fresh(second)).toBe(a.text());
      expect(fresh(second)).toContain('late');
      // What the first joiners were sent is as it was.
      expect(fresh(first)).not.toContain('late');
    } finally {
      room.destroy();
    }
  });

  it('a catch-up asked while a read is in flight reads again, so an edit committed meanwhile is not missed', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const a = await connectClient(node.url, await iv.invite('candidate'));
    await typeAndSettle(a, 1, 'base');
    const store = node.server.ctx.store;
    // The next read of the log runs at once, then waits for `release` before returning what it read.
    let armed = false;
    let readDone = false;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const gated = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'readEvents') {
          return async (iid: string, q: { after?: number; limit?: number }) => {
            const events = await target.readEvents(iid, q);
            if (armed) {
              armed = false;
              readDone = true;
              await gate;
            }
            return events;
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const room = await Room.load(gated, iv.interview.id, iv.interview);
    try {
      armed = true;
      const first = room.catchUp();
      await waitFor(() => readDone);
      // Committed after that read looked at the log, before the second caller asks.
      await typeAndSettle(a, 1, 'late');
      const second = room.catchUp();
      release();
      await Promise.all([first, second]);
      expect(room.doc('main').getMap('files').toJSON()['main.ts']).toContain('late0');
    } finally {
      room.destroy();
    }
  });
  it('a sync needs a read of the log that started after the joiner subscribed, and reads again only without one', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const a = await connectClient(node.url, await iv.invite('candidate'));
    await typeAndSettle(a, 1, 'base');
    let reads = 0;
    let hold: Promise<void> | undefined;
    const counted = new Proxy(node.server.ctx.store, {
      get(target, prop, receiver) {
        if (prop === 'readEvents') {
          return async (iid: string, q: { after?: number; limit?: number }) => {
            reads++;
            const events = await target.readEvents(iid, q);
            await hold;
            return events;
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const subscribedBeforeLoad = performance.now();
    const room = await Room.load(counted, iv.interview.id, iv.interview);
    try {
      expect(reads).toBe(1);
      // The load's own read started after that subscription: nothing to read again.
      await room.readSince(subscribedBeforeLoad);
      expect(reads).toBe(1);
      // Subscribed after it, with an edit committed in between: read again, and it is there.
      await typeAndSettle(a, 1, 'late');
      await room.readSince(performance.now());
      expect(reads).toBe(2);
      expect(room.doc('main').getMap('files').toJSON()['main.ts']).toContain('late0');
      // A read in flight that started after the subscription is shared, not repeated.
      let release!: () => void;
      hold = new Promise<void>((r) => (release = r));
      const subscribed = performance.now();
      const inFlight = room.catchUp();
      const shared = room.readSince(subscribed);
      expect(shared).toBe(inFlight);
      // One that started before a later subscription is not enough: a read follows it.
      await new Promise((r) => setTimeout(r, 2));
      const later = performance.now();
      const next = room.readSince(later);
      expect(next).not.toBe(inFlight);
      release();
      await Promise.all([inFlight, shared, next]);
      expect(reads).toBe(4);
    } finally {
      room.destroy();
    }
  });
  it('fresh joiners of a document nobody is editing share one encoding (after a cold load, the snapshot itself), retired by the next edit', async () => {
    const node = await startNode({ snapshotEvery: 5 });
    const iv = await createInterview(node);
    const a = await connectClient(node.url, await iv.invite('candidate'));
    await typeAndSettle(a, 5, 'x');
    const typed = a.text();
    // Its leave snapshots the room: the log has no edit after the snapshot.
    a.socket.disconnect();
    const store = node.server.ctx.store;
    const id = iv.interview.id;
    await waitFor(async () => expect((await store.latestSnapshot(id, 'main'))?.seq).toBe(await lastSeqOfDocs(store, id)));
    const room = await Room.load(store, iv.interview.id, iv.interview);
    try {
      const first = room.wholeDoc('main');
      // Nothing after the snapshot in the log: the stored bytes are the answer, not encoded again.
      expect(Buffer.from(first.update).equals(Buffer.from((await store.latestSnapshot(id, 'main'))!.state))).toBe(true);
      expect(room.wholeDoc('main')).toBe(first);
      // A catch-up that finds nothing new keeps it.
      await room.catchUp();
      expect(room.wholeDoc('main')).toBe(first);
      expect(textOf(first.update)).toBe(typed);
      const b = await connectClient(node.url, await iv.invite('interviewer'));
      await typeAndSettle(b, 1, 'late');
      await room.catchUp();
      const second = room.wholeDoc('main');
      expect(second).not.toBe(first);
      expect(textOf(second.update)).toBe(b.text());
      expect(b.text()).toContain('late0');
      expect(room.wholeDoc('main')).toBe(second);
    } finally {
      room.destroy();
    }
  });
  it('sends a fresh joiner of a room still loading its snapshot as soon as it is read, before the log\'s tail, and the tail after it', async () => {
    const node = await startNode({ snapshotEvery: 100 });
    const iv = await createInterview(node);
    const a = await connectClient(node.url, await iv.invite('candidate'));
    await typeAndSettle(a, 104, 'x');
    const typed = a.text();
    a.socket.disconnect();
    const store = node.server.ctx.store;
    const id = iv.interview.id;
    await waitFor(() => expect(node.server.ctx.rooms.size).toBe(0));
    const snapshot = (await store.latestSnapshot(id, 'main'))!;
    // The last few edits are in the log's tail, not in the snapshot.
    expect(snapshot.seq).toBeLessThan(await lastSeqOfDocs(store, id));
    const snapshotText = textOf(snapshot.state)!;
    expect(typed.startsWith(snapshotText)).toBe(true);
    expect(typed.length).toBeGreaterThan(snapshotText.length);

    // The log cannot be read until the gate opens: the room's load waits there.
    const open = holdLogReads(store);
    const socket = connectSocket(node.url, await iv.invite('interviewer', 'Late'));
    const received: number[] = [];
    socket.on('doc:update', ({ doc, update }) => {
      if (doc === 'main') received.push(toBytes(update).length);
    });
    const provider = new DuetProvider(socket, ['main']);
    onTestFinished(() => provider.destroy());
    const text = () => provider.doc('main').getMap<Y.Text>('files').get('main.ts')?.toString();
    // The snapshot arrives while the tail is still unread: the client has it, and is not synced yet.
    await waitFor(() => expect(text()).toBe(snapshotText));
    expect(provider.docs.get('main')!.synced).toBe(false);
    open();
    await provider.whenSynced('main');
    expect(text()).toBe(typed);
    // The snapshot came once, first; then the tail (or the answer) added the rest.
    expect(received[0]).toBe(snapshot.state.length);
    expect(received.filter((n) => n === snapshot.state.length)).toHaveLength(1);
    await waitFor(() => expect(provider.pending).toBe(0));
  });
  it('after an early snapshot, a tail too long to send as stored comes as what the snapshot lacks', async () => {
    const dataDir = tempDir();
    const first = await startNode({ dataDir, snapshotEvery: 10 });
    const iv = await createInterview(first);
    const id = iv.interview.id;
    const a = await connectClient(first.url, await iv.invite('candidate'));
    await typeAndSettle(a, 12, 'a');
    a.socket.disconnect();
    await waitFor(async () => expect((await first.server.ctx.store.latestSnapshot(id, 'main'))?.seq).toBe(await lastSeqOfDocs(first.server.ctx.store, id)));
    // Invites come from the first node's API; the tokens hold on the second (same secret).
    const [writerToken, lateToken] = [await iv.invite('candidate'), await iv.invite('observer', 'Late')];
    await first.close();
    // The same store, snapshotting rarely: the log's tail grows past what a node sends as stored (1,000 updates).
    const node = await startNode({ dataDir, snapshotEvery: 100_000 });
    const store = node.server.ctx.store;
    const snapshot = (await store.latestSnapshot(id, 'main'))!;
    const b = await connectClient(node.url, writerToken);
    await typeAndSettle(b, 1010, 'b');
    const typed = b.text();
    b.socket.disconnect();
    await waitFor(() => expect(node.server.ctx.rooms.size).toBe(0));
    expect((await store.latestSnapshot(id, 'main'))!.seq).toBe(snapshot.seq);

    const open = holdLogReads(store);
    const socket = connectSocket(node.url, lateToken);
    const received: number[] = [];
    socket.on('doc:update', ({ doc, update }) => {
      if (doc === 'main') received.push(toBytes(update).length);
    });
    let answered = 0;
    socket.on('doc:sync', (answer) => {
      if (answer.doc === 'main' && 'update' in answer) answered = toBytes(answer.update).length;
    });
    const provider = new DuetProvider(socket, ['main']);
    onTestFinished(() => provider.destroy());
    await waitFor(() => expect(received).toEqual([snapshot.state.length]));
    open();
    await provider.whenSynced('main');
    expect(provider.doc('main').getMap<Y.Text>('files').get('main.ts')?.toString()).toBe(typed);
    // Only the snapshot came as an update; the answer carried the 1,010 edits after it, not the snapshot again.
    expect(received).toEqual([snapshot.state.length]);
    expect(answered).toBeGreaterThan(2);
    expect(answered).toBeLessThan(snapshot.state.length + 1010 * 40);
    const whole = Y.encodeStateAsUpdate(provider.doc('main')).length;
    expect(answered).toBeLessThan(whole);
  }, 90_000);
});
