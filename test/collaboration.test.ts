import { describe, expect, it, onTestFinished } from 'vitest';
import { DuetProvider } from '../shared/provider.js';
import * as Y from 'yjs';
import { api, seededRandom, connectClient, connectSocket, createInterview, mainFile, startNode, waitFor } from './helpers.js';

describe('collaborative editing on one node', () => {
  it('two editors typing concurrently converge, and a late joiner gets the whole document', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const a = await connectClient(node.url, await iv.invite('interviewer', 'Ada'));
    const b = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    expect([...a.files().keys()]).toEqual(['main.ts']);

    // Interleaved typing at random positions, without waiting for each other.
    const rnd = seededRandom(7);
    for (let i = 0; i < 200; i++) {
      for (const c of [a, b]) {
        const t = mainFile(c);
        if (t.length > 5 && rnd(4) === 0) t.delete(rnd(t.length - 2), 2);
        else t.insert(rnd(t.length + 1), c === a ? 'a' : 'b');
      }
    }
    await waitFor(() => a.provider.pending === 0 && b.provider.pending === 0);
    await waitFor(() => a.text() === b.text() && a.text().length > 50);

    const late = await connectClient(node.url, await iv.invite('observer', 'Obi'));
    expect(late.text()).toBe(a.text());

    const doc = await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(doc.body.files['main.ts']).toBe(a.text());
  });

  it('the event log replayed into a fresh Y.Doc gives exactly the final text', async () => {
    const node = await startNode({ snapshotEvery: 25 });
    const iv = await createInterview(node);
    const a = await connectClient(node.url, await iv.invite('candidate'));
    for (let i = 0; i < 120; i++) mainFile(a).insert(mainFile(a).length, `line ${i}\n`);
    await waitFor(() => a.provider.pending === 0);

    const replay = new Y.Doc();
    let after = 0;
    for (;;) {
      const page = await api(node.url, `/api/interviews/${iv.interview.id}/events?after=${after}&limit=50`, { token: iv.token });
      expect(page.status).toBe(200);
      for (const e of page.body.events) {
        expect(e.seq).toBe(after + 1); // gapless
        after = e.seq;
        if (e.type === 'doc' && e.data.doc === 'main') Y.applyUpdate(replay, Buffer.from(e.data.update, 'base64'));
      }
      if (page.body.next === null) break;
      expect(page.body.next).toBe(after);
    }
    expect(replay.getMap<Y.Text>('files').get('main.ts')!.toString()).toBe(a.text());
  });
});

describe('updates that change nothing', () => {
  it('are acknowledged but neither logged nor broadcast: joins and resyncs of a document with deletions add no events', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const a = await connectClient(node.url, await iv.invite('candidate', 'Ada'));
    for (let i = 0; i < 30; i++) mainFile(a).insert(mainFile(a).length, `line ${i}\n`);
    mainFile(a).delete(3, 40);
    mainFile(a).delete(0, 2);
    await waitFor(() => a.provider.pending === 0);
    const docEvents = async () => (await node.server.ctx.store.readEvents(iv.interview.id, { after: 0, limit: 10_000 })).filter((e) => e.type === 'doc').length;
    const logged = await docEvents();

    // Each sync ends with the client sending what the node may lack, and Yjs puts the whole
    // delete set in that: these joins and resyncs used to log one such event each.
    const b = await connectClient(node.url, await iv.invite('interviewer', 'Bo'));
    const heard: Uint8Array[] = [];
    b.socket.on('doc:update', ({ update }) => heard.push(update));
    const socket = connectSocket(node.url, await iv.invite('observer', 'Obi'));
    const resyncing = new DuetProvider(socket, ['main'], { resyncEveryMs: 100 });
    onTestFinished(() => resyncing.destroy());
    // An observer sent its delete set back too, and was told off (forbidden) each time.
    const refused: unknown[] = [];
    resyncing.on('refused', (e) => refused.push(e));
    await resyncing.whenSynced('main');
    // A fresh joiner's document came whole from the node: it offers nothing
    // back, not even the delete set (it may edit, but has no deletions of its own).
    const cySocket = connectSocket(node.url, await iv.invite('interviewer', 'Cy'));
    const cySent: string[] = [];
    cySocket.onAnyOutgoing((event) => cySent.push(event));
    const cy = new DuetProvider(cySocket, ['main']);
    onTestFinished(() => cy.destroy());
    await cy.whenSynced('main');
    await new Promise((r) => setTimeout(r, 500));
    // It asked in the handshake (no doc:sync of its own), and offered nothing back.
    expect(cySent).not.toContain('doc:sync');
    expect(cySent).not.toContain('doc:update');
    // The same edit sent again, and a deletion of what is already deleted.
    const again = Y.encodeStateAsUpdate(a.provider.doc('main'));
    expect(await a.socket.emitWithAck('doc:update', { doc: 'main', update: again })).toEqual({ ok: true });
    await waitFor(() => a.provider.pending === 0 && b.provider.pending === 0 && resyncing.pending === 0);
    expect(await docEvents()).toBe(logged);
    expect(heard).toEqual([]);
    expect(refused).toEqual([]);

    // A real edit still goes through.
    mainFile(b).insert(0, '!');
    await waitFor(() => a.text() === b.text() && a.text().startsWith('!'));
    expect(await docEvents()).toBe(logged + 1);
  });
});

describe('an edit made while an update from the node applies', () => {
  it('is sent, though the provider stops listening for edits while it applies one', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const a = await connectClient(node.url, await iv.invite('candidate', 'Ada'));
    const b = await connectClient(node.url, await iv.invite('interviewer', 'Bo'));
    mainFile(a).insert(0, 'start ');
    await waitFor(() => b.text() === 'start ');
    // Bo's page answers Ada's "ping" from inside the observer, that is, within
    // the node's update being applied (as an editor binding or a linter might).
    const bText = mainFile(b);
    bText.observe(() => {
      if (bText.toString().includes('ping') && !bText.toString().includes('pong')) bText.insert(bText.length, ' pong');
    });
    mainFile(a).insert(mainFile(a).length, 'ping');
    await waitFor(() => expect(a.text()).toBe('start ping pong'), 8000);
    await waitFor(() => b.provider.pending === 0);
    const logged = await node.server.ctx.store.readEvents(iv.interview.id, { after: 0, limit: 1000 });
    expect(logged.filter((e) => e.type === 'doc' && e.actor.name === 'Bo')).toHaveLength(1);
  });
});

describe('a sync the node cannot answer just now', () => {
  it('is asked again, so a joiner whose first sync failed still gets the document', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const a = await connectClient(node.url, await iv.invite('candidate', 'Ada'));
    mainFile(a).insert(0, 'written before the outage');
    await waitFor(() => a.provider.pending === 0);

    // The next read of the log's tail (every event type: the sync's catch-up)
    // fails, as it would while the database is unreachable.
    const store = node.server.ctx.store;
    const read = store.readEvents.bind(store);
    let failures = 0;
    store.readEvents = async (id, query) => {
      if (failures === 0 && query.type === undefined) {
        failures++;
        throw new Error('connection terminated unexpectedly');
      }
      return read(id, query);
    };
    onTestFinished(() => {
      store.readEvents = read;
    });
    const socket = connectSocket(node.url, await iv.invite('interviewer', 'Bo'));
    const b = new DuetProvider(socket, ['main']);
    onTestFinished(() => b.destroy());
    const refused: unknown[] = [];
    b.on('refused', (e) => refused.push(e));
    await waitFor(() => b.docs.get('main')!.synced, 8000);
    expect(failures).toBe(1);
    expect(b.doc('main').getMap<Y.Text>('files').get('main.ts')!.toString()).toBe('written before the outage');
    expect(refused).toEqual([]);
  });
});

describe('an edit committed but never broadcast', () => {
  it('reaches connected clients through their periodic resync', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const socket = connectSocket(node.url, await iv.invite('candidate'));
    const provider = new DuetProvider(socket, ['main'], { resyncEveryMs: 200 });
    onTestFinished(() => provider.destroy());
    await provider.whenSynced('main');

    // What a node that dies between its commit and its broadcast leaves behind:
    // the edit is in the log, and no client was told.
    const writer = new Y.Doc();
    Y.applyUpdate(writer, Y.encodeStateAsUpdate(provider.doc('main')));
    const before = Y.encodeStateVector(writer);
    writer.getMap<Y.Text>('files').get('main.ts')!.insert(0, 'committed, never broadcast');
    await node.server.ctx.store.append(
      iv.interview.id,
      [{ type: 'doc', at: new Date().toISOString(), actor: { sub: 'x', name: 'X', role: 'interviewer' }, doc: 'main', bin: Y.encodeStateAsUpdate(writer, before), data: { doc: 'main' } }],
      { requireOpen: true },
    );
    await waitFor(() => provider.doc('main').getMap<Y.Text>('files').get('main.ts')!.toString() === 'committed, never broadcast');
  });
});
