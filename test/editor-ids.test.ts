/**
 * A Yjs client id is claimed by its page before anyone else can learn it
 * (with its first cursor, or its first edit), and new structs under someone
 * else's id are refused: sent ahead of that person's own, Yjs would keep the
 * forgery and drop their real keystrokes for everyone but them.
 */
import { describe, expect, it } from 'vitest';
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness';
import * as Y from 'yjs';
import { api, connectClient, connectSocket, createInterview, holdNextStoreAnswer, mainFile, nextEvent, startNode, waitFor, type TestClient } from './helpers.js';
import { startCluster } from './fixtures/multi-node.js';

const code = (reply: any) => reply?.error?.code;

/** The id `client`'s cursor was announced under, as another client heard it. */
function heardId(listener: TestClient, name: string): number | undefined {
  for (const [id, state] of listener.provider.awareness('main').getStates()) if ((state as any)?.user?.name === name) return id;
  return undefined;
}

/** An update writing `text` at the start of the first file under client id `as`, built from `from`'s copy. */
function forgedUpdate(from: TestClient, as: number, text: string): Uint8Array {
  const copy = new Y.Doc();
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(from.provider.doc('main')));
  copy.clientID = as;
  let update: Uint8Array | undefined;
  copy.on('update', (u: Uint8Array) => (update = u));
  [...copy.getMap<Y.Text>('files').values()][0]!.insert(0, text);
  copy.destroy();
  return update!;
}

/** A cursor announced under client id `as`, or (`remove`) its removal. */
function forgedCursor(as: number, remove = false): Uint8Array {
  const doc = new Y.Doc();
  doc.clientID = as;
  const awareness = new Awareness(doc);
  awareness.setLocalState(remove ? null : { user: { name: 'Ada' }, cursor: null });
  const update = encodeAwarenessUpdate(awareness, [as]);
  awareness.destroy();
  doc.destroy();
  return update;
}

describe("editors' Yjs client ids", () => {
  it("refuses a candidate's structs under the interviewer's id, before and after the interviewer's first keystroke", async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const ada = await connectClient(node.url, iv.token);
    // Her page shows a cursor from the start (room-page.ts does so).
    ada.provider.awareness('main').setLocalStateField('user', { name: 'Ada' });
    const cy = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const obi = await connectClient(node.url, await iv.invite('observer', 'Obi'));
    const adaId = await waitFor(() => heardId(cy, 'Ada') ?? Promise.reject(new Error("Ada's cursor not heard yet")));
    expect(adaId).toBe(ada.provider.doc('main').clientID);

    // Learnt from Ada's cursor before Ada typed anything: already hers.
    expect(code(await cy.socket.emitWithAck('doc:update', { doc: 'main', update: forgedUpdate(cy, adaId, 'EARLY ') }))).toBe('forbidden');
    mainFile(ada).insert(0, 'def f():\n');
    await waitFor(() => cy.text() === 'def f():\n' && obi.text() === cy.text());
    // Ahead of Ada's next keystroke, at her next clock.
    expect(code(await cy.socket.emitWithAck('doc:update', { doc: 'main', update: forgedUpdate(cy, adaId, 'FORGED ') }))).toBe('forbidden');
    mainFile(ada).insert(0, '# ');
    await waitFor(() => ada.provider.pending === 0);
    await waitFor(() => cy.text() === '# def f():\n' && obi.text() === cy.text());
    const doc = await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(Object.values(doc.body.files)).toEqual(['# def f():\n']);
    // Cy's own edits are Cy's to make.
    mainFile(cy).insert(mainFile(cy).length, '    return 1\n');
    await waitFor(() => cy.provider.pending === 0 && ada.text() === '# def f():\n    return 1\n');
  });

  it("holds across nodes: structs and cursors under another's id are refused, and a resync carrying others' edits passes", async () => {
    const { nodes } = await startCluster(2);
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const iv = await createInterview(a);
    const ada = await connectClient(a.url, iv.token);
    ada.provider.awareness('main').setLocalStateField('user', { name: 'Ada' });
    const cyToken = await iv.invite('candidate', 'Cy');
    const cy = await connectClient(b.url, cyToken);
    const adaId = await waitFor(() => heardId(cy, 'Ada') ?? Promise.reject(new Error("Ada's cursor not heard yet")));
    expect(code(await cy.socket.emitWithAck('doc:update', { doc: 'main', update: forgedUpdate(cy, adaId, 'EARLY ') }))).toBe('forbidden');
    // Posing as Ada's cursor from another node is refused too, removal first or not.
    expect(code(await cy.socket.emitWithAck('awareness', { doc: 'main', update: forgedCursor(adaId) }))).toBe('forbidden');
    expect(code(await cy.socket.emitWithAck('awareness', { doc: 'main', update: forgedCursor(adaId, true) }))).toBe('forbidden');
    await cy.socket.emitWithAck('awareness', { doc: 'main', update: forgedCursor(424242, true) });
    expect(code(await cy.socket.emitWithAck('awareness', { doc: 'main', update: forgedCursor(424242) }))).toBeUndefined();
    expect(await b.server.ctx.store.editorIdOwner(iv.interview.id, 'main', 424242)).toBe(cy.provider.session!.you.sub);
    mainFile(ada).insert(0, 'ada ');
    await waitFor(() => cy.text() === 'ada ');
    expect(code(await cy.socket.emitWithAck('doc:update', { doc: 'main', update: forgedUpdate(cy, adaId, 'FORGED ') }))).toBe('forbidden');

    // An honest resync: Cy, offline, types on top of Ada's latest edit; reconnecting, Cy sends Ada's
    // structs too (node b's copy has them only once it reads the log), and the node takes Cy's part.
    mainFile(ada).insert(0, 'A');
    await waitFor(() => cy.text() === 'Aada ');
    cy.socket.disconnect();
    mainFile(cy).insert(mainFile(cy).length, 'C');
    const resync = connectSocket(b.url, cyToken);
    await new Promise<void>((resolve) => resync.once('connect', () => resolve()));
    const everything = Y.encodeStateAsUpdate(cy.provider.doc('main'));
    expect(code(await resync.emitWithAck('doc:update', { doc: 'main', update: everything }))).toBeUndefined();
    await waitFor(() => ada.text() === 'Aada C');
  }, 60_000);

  it("claims an observer's id too: from another node its cursor can be neither removed nor posed as, nor the observer locked out of it", async () => {
    const { nodes } = await startCluster(2);
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const iv = await createInterview(a);
    const obiToken = await iv.invite('observer', 'Obi');
    const obi = await connectClient(a.url, obiToken);
    obi.provider.awareness('main').setLocalStateField('user', { name: 'Obi' });
    const cy = await connectClient(b.url, await iv.invite('candidate', 'Cy'));
    const obiId = await waitFor(() => heardId(cy, 'Obi') ?? Promise.reject(new Error("Obi's cursor not heard yet")));
    // Node b has not met the id: it asks the database, the removal first.
    expect(code(await cy.socket.emitWithAck('awareness', { doc: 'main', update: forgedCursor(obiId, true) }))).toBe('forbidden');
    expect(code(await cy.socket.emitWithAck('awareness', { doc: 'main', update: forgedCursor(obiId) }))).toBe('forbidden');
    expect(await a.server.ctx.store.editorIdOwner(iv.interview.id, 'main', obiId)).toBe(obi.provider.session!.you.sub);
    // Obi's cursor still moves, and everyone still sees it as Obi's.
    obi.provider.awareness('main').setLocalStateField('cursor', { file: 'at-1', selections: [] });
    await waitFor(() => (cy.provider.awareness('main').getStates().get(obiId) as any)?.cursor?.file === 'at-1');
    expect((cy.provider.awareness('main').getStates().get(obiId) as any)?.user?.name).toBe('Obi');
    // Obi's page, reconnected to node b, announces its cursor there as before.
    const again = connectSocket(b.url, obiToken);
    await nextEvent(again, 'session');
    expect(code(await again.emitWithAck('awareness', { doc: 'main', update: forgedCursor(obiId) }))).toBeUndefined();
  }, 60_000);

  it('bounds the new ids one person may claim: each is a row in the database', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const cy = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const replies: string[] = [];
    for (let i = 0; i < 30; i++) {
      const update = forgedUpdate(cy, 1_000_000 + i, 'x');
      replies.push(code(await cy.socket.emitWithAck('doc:update', { doc: 'main', update })) ?? 'ok');
    }
    // A burst of 20 (the page's own cursor took one), then one each 10 s.
    expect(replies.slice(0, 15)).toEqual(Array(15).fill('ok'));
    expect(replies.slice(20)).toEqual(Array(10).fill('rate_limited'));
    const claimed = await Promise.all(replies.map((_, i) => node.server.ctx.store.editorIdOwner(iv.interview.id, 'main', 1_000_000 + i)));
    expect(claimed.filter((sub) => sub !== undefined).length).toBeLessThanOrEqual(22);
  });

  it("relays a page's first cursor only once its id is claimed", async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const cy = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const ada = await connectClient(node.url, iv.token);
    const held = holdNextStoreAnswer(node.server.ctx.store, 'claimEditorId', 0, (args) => args[2] === ada.provider.doc('main').clientID);
    ada.provider.awareness('main').setLocalStateField('user', { name: 'Ada' });
    await held.answered;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(heardId(cy, 'Ada')).toBeUndefined();
    held.release();
    await waitFor(() => heardId(cy, 'Ada') === ada.provider.doc('main').clientID);
  });
});
