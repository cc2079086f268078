/**
 * A Yjs client id belongs to the first person who wrote under it: structs
 * under someone else's id (sent ahead of them, so Yjs would keep the forgery
 * and drop their real keystrokes for everyone but them) are refused, on the
 * node that saw the owner's edits and on one that only has the snapshot.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { api, connectClient, connectSocket, createInterview, mainFile, startNode, waitFor, type TestClient } from './helpers.js';
import { startCluster } from './fixtures/multi-node.js';

const code = (reply: any) => reply?.error?.code;

/** An update writing `text` at the start of the first file, under `victim`'s client id and next clock, built from `from`'s copy. */
function forgedUpdate(from: TestClient, victim: TestClient, text: string): Uint8Array {
  const copy = new Y.Doc();
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(from.provider.doc('main')));
  copy.clientID = victim.provider.doc('main').clientID;
  let update: Uint8Array | undefined;
  copy.on('update', (u: Uint8Array) => (update = u));
  const file = [...copy.getMap<Y.Text>('files').values()][0]!;
  file.insert(0, text);
  copy.destroy();
  return update!;
}

describe("editors' Yjs client ids", () => {
  it("refuses a candidate's structs under the interviewer's id, and the interviewer's next keystrokes reach everyone", async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const ada = await connectClient(node.url, iv.token);
    const cy = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const obi = await connectClient(node.url, await iv.invite('observer', 'Obi'));
    mainFile(ada).insert(0, 'def f():\n');
    await waitFor(() => cy.text() === 'def f():\n' && obi.text() === cy.text());

    const forged = forgedUpdate(cy, ada, 'FORGED ');
    expect(code(await cy.socket.emitWithAck('doc:update', { doc: 'main', update: forged }))).toBe('forbidden');
    // Ada's own keystroke at the same id and clock goes through, and everyone has it.
    mainFile(ada).insert(0, '# ');
    await waitFor(() => ada.provider.pending === 0);
    await waitFor(() => cy.text() === '# def f():\n' && obi.text() === cy.text());
    const doc = await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(Object.values(doc.body.files)).toEqual(['# def f():\n']);
    // Cy's own edits are still Cy's to make.
    mainFile(cy).insert(mainFile(cy).length, '    return 1\n');
    await waitFor(() => cy.provider.pending === 0 && ada.text() === '# def f():\n    return 1\n');
  });

  it('knows the owners on another node from the snapshot alone, and a resync carrying others\' edits still passes', async () => {
    const { nodes } = await startCluster(2, { snapshotEvery: 5 });
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const iv = await createInterview(a);
    const id = iv.interview.id;
    const store = a.server.ctx.store;
    const ada = await connectClient(a.url, iv.token);
    // Typed until a snapshot holds every edit: a node loading the room then reads no edit of Ada's from the log.
    for (let i = 0; i < 40; i++) {
      mainFile(ada).insert(mainFile(ada).length, `${i} `);
      await waitFor(() => ada.provider.pending === 0);
      const [snapshot, edits] = await Promise.all([store.latestSnapshot(id, 'main'), store.readEvents(id, { type: 'doc', doc: 'main' })]);
      if (snapshot && snapshot.seq >= edits[edits.length - 1]!.seq) break;
    }
    const snapshot = await store.latestSnapshot(id, 'main');
    expect(snapshot?.owners).toContainEqual([ada.provider.doc('main').clientID, ada.provider.session!.you.sub]);
    const typed = ada.text();

    // Node b loads the room on Cy's join: from that snapshot.
    const cyToken = await iv.invite('candidate', 'Cy');
    const cy = await connectClient(b.url, cyToken);
    expect(cy.text()).toBe(typed);
    expect(code(await cy.socket.emitWithAck('doc:update', { doc: 'main', update: forgedUpdate(cy, ada, 'FORGED ') }))).toBe('forbidden');

    // An honest resync: Cy, offline, types on top of Ada's latest edit; reconnecting, Cy sends Ada's
    // structs too (node b's copy has them only once it reads the log), and the node takes Cy's part.
    mainFile(ada).insert(0, 'A');
    await waitFor(() => cy.text() === `A${typed}`);
    cy.socket.disconnect();
    mainFile(cy).insert(mainFile(cy).length, 'C');
    const resync = connectSocket(b.url, cyToken);
    await new Promise<void>((resolve) => resync.once('connect', () => resolve()));
    const everything = Y.encodeStateAsUpdate(cy.provider.doc('main'));
    expect(code(await resync.emitWithAck('doc:update', { doc: 'main', update: everything }))).toBeUndefined();
    await waitFor(() => ada.text() === `A${typed}C`);
  }, 60_000);
});
