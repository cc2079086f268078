/**
 * The final files (GET /document, files.zip) are kept per node between calls:
 * a call reads only the log past the node's copy, so another node's edits
 * show at once, and an unchanged interview costs one short query.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { FinalFiles } from '../server/replay/final-files.js';
import { api, connectClient, countStoreCalls, createInterview, holdNextStoreAnswer, interviewerToken, mainFile, startNode, waitFor, type TestNode } from './helpers.js';
import { startCluster } from './fixtures/multi-node.js';

const forInterview = (id: string) => (args: unknown[]) => args[0] === id;

async function interviewWith(node: TestNode, starterCode: string): Promise<string> {
  const res = await api(node.url, '/api/interviews', {
    token: await interviewerToken(node),
    body: { title: 'Kept', language: 'python', starterCode },
  });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

describe('final files', () => {
  it("a node's copy follows edits committed through another node, and reads the snapshot once", async () => {
    const { nodes } = await startCluster(2, { snapshotEvery: 20 });
    const [asked, typedOn] = nodes as [TestNode, TestNode];
    const iv = await createInterview(asked);
    const id = iv.interview.id;
    const snapshotReads = countStoreCalls(asked.server.ctx.store, 'latestSnapshot', forInterview(id));
    const logReads = countStoreCalls(asked.server.ctx.store, 'readEvents', forInterview(id));
    const document = async () => {
      const res = await api(asked.url, `/api/interviews/${id}/document`, { token: iv.token });
      expect(res.status).toBe(200);
      return res.body.files as Record<string, string>;
    };
    const cy = await connectClient(typedOn.url, await iv.invite('candidate', 'Cy'));
    const acked = () => waitFor(() => cy.provider.pending === 0);

    mainFile(cy).insert(0, 'def add(a, b):\n');
    await acked();
    const first = await document();
    expect(Object.values(first)).toEqual(['def add(a, b):\n']);

    // Enough edits on the other node for it to snapshot in between: the copy reads on from its seq.
    for (let i = 0; i < 45; i++) mainFile(cy).insert(mainFile(cy).length, `    # ${i}\n`);
    cy.files().set('util.py', new Y.Text('X = 1\n'));
    await acked();
    const second = await document();
    expect(second[Object.keys(first)[0]!]).toBe(cy.text());
    expect(second['util.py']).toBe('X = 1\n');

    // Unchanged: answered again with one read of the log, which finds nothing.
    const reads = logReads();
    const again = await Promise.all([document(), document(), document()]);
    for (const files of again) expect(files).toEqual(second);
    expect(logReads()).toBe(reads + 3);
    expect(snapshotReads()).toBe(1);

    // The zip is built from the same copy, and an ended interview's files are the last ones.
    mainFile(cy).insert(mainFile(cy).length, 'print(add(1, 2))\n');
    await acked();
    expect((await api(asked.url, `/api/interviews/${id}/end`, { method: 'POST', token: iv.token })).status).toBe(200);
    const zip = await fetch(`${asked.url}/api/interviews/${id}/files.zip`, { headers: { authorization: `Bearer ${iv.token}` } });
    expect(zip.status).toBe(200);
    expect(Buffer.from(await zip.arrayBuffer()).includes(Buffer.from('util.py'))).toBe(true);
    expect((await document())[Object.keys(first)[0]!]).toBe(cy.text());
    expect(snapshotReads()).toBe(1);
  }, 60_000);

  it('keeps at most its limits: the least recently asked dropped first, a large document not kept, an idle one let go', async () => {
    const node = await startNode();
    const store = node.server.ctx.store;
    const a = await interviewWith(node, 'a = 1\n');
    const b = await interviewWith(node, 'b = 2\n');
    const large = await interviewWith(node, 'x'.repeat(300));
    const readsOf = (id: string) => countStoreCalls(store, 'latestSnapshot', forInterview(id));
    const [readsA, readsB, readsLarge] = [readsOf(a), readsOf(b), readsOf(large)];
    const files = new FinalFiles(store, { maxEntries: 1, maxBytes: 200, idleMs: 60_000 });

    expect(Object.values(await files.of(a))).toEqual(['a = 1\n']);
    expect(Object.values(await files.of(a))).toEqual(['a = 1\n']);
    expect(readsA()).toBe(1);
    // One entry: asking about b drops a.
    expect(Object.values(await files.of(b))).toEqual(['b = 2\n']);
    await files.of(a);
    expect(readsA()).toBe(2);
    expect(readsB()).toBe(1);
    // Over maxBytes: built every time, and it does not push out what is kept.
    expect(Object.values(await files.of(large))).toEqual(['x'.repeat(300)]);
    await files.of(large);
    expect(readsLarge()).toBe(2);
    await files.of(a);
    expect(readsA()).toBe(2);

    // Calls that end in another order than they began: the one that ends last is kept.
    const held = holdNextStoreAnswer(store, 'readEvents', 0, forInterview(b));
    const forB = files.of(b);
    await held.answered;
    await files.of(a);
    held.release();
    await forB;
    await files.of(b);
    expect(readsB()).toBe(2);
    await files.of(a);
    expect(readsA()).toBe(3);
    files.close();

    // Idle past idleMs: dropped.
    const brief = new FinalFiles(store, { maxEntries: 8, maxBytes: 1 << 20, idleMs: 50 });
    await brief.of(a);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await brief.of(a);
    expect(readsA()).toBe(5);
    brief.close();
  });

  it("forgets a deleted interview's files on every node", async () => {
    const { nodes } = await startCluster(2);
    const [first, second] = nodes as [TestNode, TestNode];
    const id = await interviewWith(first, 'secret = 42\n');
    for (const node of nodes) expect(Object.values(await node.server.ctx.finalFiles.of(id))).toEqual(['secret = 42\n']);
    const res = await api(first.url, `/api/interviews/${id}`, { method: 'DELETE', token: await interviewerToken(first) });
    expect(res.status).toBe(204);
    // Read again from a log that is gone: nothing. A copy kept would still answer the text.
    expect(await first.server.ctx.finalFiles.of(id)).toEqual({});
    await waitFor(async () => expect(await second.server.ctx.finalFiles.of(id)).toEqual({}));
  });

  it('answers a call with what was committed before it, even while an earlier call is under way', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const id = iv.interview.id;
    const cy = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const files = new FinalFiles(node.server.ctx.store);
    mainFile(cy).insert(0, 'one\n');
    await waitFor(() => cy.provider.pending === 0);
    // The earlier call's read of the log is answered (it has 'one') but held back from the call.
    const held = holdNextStoreAnswer(node.server.ctx.store, 'readEvents', 0, (args) => args[0] === id && (args[1] as { type?: string }).type === 'doc');
    const earlier = files.of(id);
    await held.answered;
    mainFile(cy).insert(mainFile(cy).length, 'two\n');
    await waitFor(() => cy.provider.pending === 0);
    const later = files.of(id);
    held.release();
    // Sharing the earlier call's answer would miss 'two', acknowledged before the later call.
    expect(Object.values(await later)).toEqual(['one\ntwo\n']);
    expect(Object.values(await earlier)[0]).toMatch(/^one\n/);
    files.close();
  });
});
