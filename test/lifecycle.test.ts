import SQLite from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import * as Y from 'yjs';
import { DuetProvider } from '../shared/provider.js';
import type { Interview, SessionInfo } from '../shared/protocol.js';
import { api, connectClient, connectSocket, createInterview, failNextStoreCall, holdNextStoreAnswer, loseNextStoreAnswer, mainFile, nextEvent, startNode, tempDir, waitFor } from './helpers.js';

describe('interview lifecycle', () => {
  it('ending tells everyone, refuses further edits with interview_ended (still acknowledging what the log has), and is idempotent', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const cand = await connectClient(node.url, await iv.invite('candidate'));
    const ida = await connectClient(node.url, iv.token);
    mainFile(cand).insert(0, 'final answer');
    await waitFor(() => ida.text() === 'final answer');

    const told = nextEvent<any>(cand.socket, 'interview');
    const ended = await api(node.url, `/api/interviews/${iv.interview.id}/end`, { token: iv.token, method: 'POST' });
    expect(ended).toMatchObject({ status: 200, body: { status: 'ended', endedAt: expect.any(String) } });
    expect(await told).toMatchObject({ id: iv.interview.id, status: 'ended' });

    const late = new Y.Doc();
    Y.applyUpdate(late, Y.encodeStateAsUpdate(cand.provider.doc('main')));
    late.getMap<Y.Text>('files').get('main.ts')!.insert(0, 'too late: ');
    const reply = await cand.socket.emitWithAck('doc:update', { doc: 'main', update: Y.encodeStateAsUpdate(late) });
    expect(reply).toMatchObject({ error: { code: 'interview_ended' } });
    // What the log has is still acknowledged: a client resending its last edits after the end learns they were saved.
    expect(await cand.socket.emitWithAck('doc:update', { doc: 'main', update: Y.encodeStateAsUpdate(cand.provider.doc('main')) })).toEqual({ ok: true });
    expect(await cand.socket.emitWithAck('chat:send', { channel: 'room', text: 'wait' })).toMatchObject({ error: { code: 'interview_ended' } });
    expect(await cand.socket.emitWithAck('interview:language', { language: 'go' })).toMatchObject({ error: { code: 'interview_ended' } });

    const again = await api(node.url, `/api/interviews/${iv.interview.id}/end`, { token: iv.token, method: 'POST' });
    expect(again).toMatchObject({ status: 200, body: { status: 'ended', endedAt: ended.body.endedAt } });

    // Anyone with a valid token may still join, read-only.
    const viewer = await connectClient(node.url, await iv.invite('observer'));
    expect(viewer.text()).toBe('final answer');
    expect(viewer.provider.session?.interview.status).toBe('ended');

    const log = await api(node.url, `/api/interviews/${iv.interview.id}/events`, { token: iv.token });
    const types = log.body.events.map((e: any) => e.type);
    expect(types.filter((t: string) => t === 'end')).toHaveLength(1);
    expect(types[types.length - 1]).toBe('end');
    const doc = await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(doc.body.files['main.ts']).toBe('final answer');
  });

  it("an end published while a join's read of the interview was on its way is not undone by that read", async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    await connectClient(node.url, iv.token);
    const invite = await iv.invite('candidate', 'Cy');
    // The join's own read of the interview (the handshake's is the first) answers only after the end.
    const held = holdNextStoreAnswer(node.server.ctx.store, 'getInterview', 1);
    const socket = connectSocket(node.url, invite);
    const session = nextEvent<SessionInfo>(socket, 'session');
    expect(await held.answered).toMatchObject({ status: 'open' });
    expect((await api(node.url, `/api/interviews/${iv.interview.id}/end`, { token: iv.token, method: 'POST' })).status).toBe(200);
    held.release();
    expect((await session).interview.status).toBe('ended');
    expect((await node.server.ctx.rooms.peek(iv.interview.id))?.interview.status).toBe('ended');
  });

  it("a language change published while a join's read of the interview was on its way is not undone by that read", async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const ida = await connectClient(node.url, iv.token);
    const invite = await iv.invite('candidate', 'Cy');
    // The join's own read of the interview (the handshake's is the first) answers only after the change.
    const held = holdNextStoreAnswer(node.server.ctx.store, 'getInterview', 1);
    const socket = connectSocket(node.url, invite);
    const session = nextEvent<SessionInfo>(socket, 'session');
    const read = (await held.answered) as Interview;
    expect(read).toMatchObject({ language: 'typescript' });
    expect(await ida.socket.emitWithAck('interview:language', { language: 'go' })).toMatchObject({ ok: true, interview: { language: 'go' } });
    held.release();
    const sent = (await session).interview;
    expect(sent).toMatchObject({ language: 'go' });
    expect(sent.seq).toBeGreaterThan(read.seq);
    expect((await node.server.ctx.rooms.peek(iv.interview.id))?.interview.language).toBe('go');
  });

  it('a leave the store failed to write is tried again, so the replay does not show the person online until the end', async () => {
    const { node, cy, leaves } = await leavingCandidate();
    const write = failNextStoreCall(node.server.ctx.store, 'appendMany');
    cy.socket.disconnect();
    await write.reached;
    await waitFor(async () => (await leaves()).length === 1, 5000);
  });

  it('a leave committed but whose answer was lost is not logged again by the retry', async () => {
    const { node, cy, leaves } = await leavingCandidate();
    const write = loseNextStoreAnswer(node.server.ctx.store, 'appendMany');
    cy.socket.disconnect();
    await write.lost;
    expect(await leaves()).toHaveLength(1);
    // Past the first retry (1 s after the failure), and the second (3 s after that) would come later still.
    await new Promise((r) => setTimeout(r, 1600));
    expect(await leaves()).toHaveLength(1);
  });

  it('a leave retried after a failed write is told apart from another tab of the same person leaving in the same millisecond', async () => {
    const { node, cy, token, leaves, joins } = await leavingCandidate();
    const otherTab = await connectClient(node.url, token);
    // Its join is logged after its `session`: the failure below must not take it.
    await waitFor(async () => (await joins()).length === 2, 5000);
    const write = failNextStoreCall(node.server.ctx.store, 'appendMany');
    // One instant for every timestamp the node takes while both tabs leave: the two leaves have the same `at`.
    vi.setSystemTime(new Date());
    onTestFinished(() => void vi.useRealTimers());
    cy.socket.disconnect();
    await write.reached;
    // The other tab leaves while the first one's leave waits for its retry (1 s after the failure).
    otherTab.socket.disconnect();
    const sockets = node.server.ctx.io.of('/').sockets;
    for (let i = 0; i < 500 && sockets.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(sockets.size).toBe(0);
    vi.useRealTimers();
    await waitFor(async () => (await leaves()).length === 1, 5000);
    await waitFor(async () => (await leaves()).length === 2, 5000);
    const logged = await leaves();
    expect(logged[0]!.at).toBe(logged[1]!.at);
    // Each leave names its connection, as that connection's join does.
    const conns = (await joins()).map((e) => e.data.conn);
    expect(conns).toHaveLength(2);
    expect(new Set(conns).size).toBe(2);
    expect(logged.map((e) => e.data.conn).sort()).toEqual([...conns].sort());
  });

  it('a language change reaches everyone and is logged', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const cand = await connectClient(node.url, await iv.invite('candidate'));
    const obs = await connectClient(node.url, await iv.invite('observer'));
    const told = nextEvent<any>(obs.socket, 'interview');
    const before = cand.provider.session!.interview.seq;
    expect(await cand.socket.emitWithAck('interview:language', { language: 'go' })).toMatchObject({ ok: true, interview: { language: 'go' } });
    expect(await told).toMatchObject({ language: 'go', seq: expect.any(Number) });
    expect((await told).seq).toBeGreaterThan(before);
    expect((await api(node.url, `/api/interviews/${iv.interview.id}`, { token: iv.token })).body).toMatchObject({ language: 'go', seq: (await told).seq });
  });

  it('restarts on the same data directory with the document, notes and chat intact', async () => {
    const dataDir = tempDir();
    const first = await startNode({ dataDir, snapshotEvery: 10 });
    const iv = await createInterview(first);
    const cand = await connectClient(first.url, await iv.invite('candidate'));
    const ida = await connectClient(first.url, iv.token, ['main', 'notes']);
    for (let i = 0; i < 37; i++) mainFile(cand).insert(mainFile(cand).length, `${i};`);
    ida.provider.doc('notes').getText('notes').insert(0, 'solid');
    await cand.socket.emitWithAck('chat:send', { channel: 'room', text: 'done?' });
    await ida.socket.emitWithAck('chat:send', { channel: 'panel', text: 'hire' });
    await waitFor(() => cand.provider.pending === 0 && ida.provider.pending === 0);
    const text = cand.text();
    const observerToken = await iv.invite('observer');
    await first.close();

    const second = await startNode({ dataDir });
    const back = await connectClient(second.url, observerToken, ['main', 'notes']);
    expect(back.text()).toBe(text);
    expect(back.provider.doc('notes').getText('notes').toString()).toBe('solid');
    expect(back.provider.session?.chat.map((m) => [m.channel, m.text])).toEqual([
      ['room', 'done?'],
      ['panel', 'hire'],
    ]);
    // Tokens minted before the restart still work: the generated secret was kept.
    expect((await api(second.url, `/api/interviews/${iv.interview.id}`, { token: iv.token })).status).toBe(200);
  });

  it('a client keeps edits made while the node was down and sends them after it returns', async () => {
    const dataDir = tempDir();
    const first = await startNode({ dataDir });
    const port = Number(new URL(first.url).port);
    const iv = await createInterview(first);
    const cand = await connectClient(first.url, await iv.invite('candidate'));
    mainFile(cand).insert(0, 'online;');
    await waitFor(() => cand.provider.pending === 0);
    await first.close();
    await waitFor(() => cand.provider.status === 'offline');

    mainFile(cand).insert(mainFile(cand).length, 'offline;');
    expect(cand.provider.pending).toBeGreaterThan(0);

    const second = await startNode({ dataDir }, { port });
    await waitFor(() => cand.provider.status === 'connected' && cand.provider.pending === 0, 10_000);
    const doc = await api(first.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(doc.body.files['main.ts']).toBe('online;offline;');

    // Only a deletion this time: no new struct, so the state vectors do not show it.
    await second.close();
    await waitFor(() => cand.provider.status === 'offline');
    mainFile(cand).delete(0, 2);
    expect(cand.provider.pending).toBeGreaterThan(0);
    await startNode({ dataDir }, { port });
    await waitFor(() => cand.provider.status === 'connected' && cand.provider.pending === 0, 10_000);
    const after = await api(first.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(after.body.files['main.ts']).toBe('line;offline;');
  });

  it('a writer that reconnects with nothing new sends nothing back, so a node that loaded the room cold need not apply it at once', async () => {
    const dataDir = tempDir();
    const first = await startNode({ dataDir });
    const port = Number(new URL(first.url).port);
    const iv = await createInterview(first);
    const cand = await connectClient(first.url, await iv.invite('candidate'));
    for (let i = 0; i < 20; i++) mainFile(cand).insert(mainFile(cand).length, `line ${i};`);
    mainFile(cand).delete(5, 30);
    mainFile(cand).delete(0, 2);
    await waitFor(() => cand.provider.pending === 0);
    const text = cand.text();
    await first.close();
    await waitFor(() => cand.provider.status === 'offline');

    const sent: string[] = [];
    cand.socket.onAnyOutgoing((event) => sent.push(event));
    const second = await startNode({ dataDir }, { port, coldApplyAfterMs: 60_000 });
    await waitFor(() => cand.provider.status === 'connected' && cand.provider.pending === 0, 10_000);
    await cand.provider.whenSynced('main');
    // Its deletions are all in the node's answer: the node has them, and was not asked to check them.
    expect(sent).not.toContain('doc:update');
    const room = await second.server.ctx.rooms.peek(iv.interview.id);
    expect(room?.storedDoc('main', 1000)).toBeDefined();

    // One deletion made offline among the many the node has: the offer goes, and the node takes it.
    await second.close();
    await waitFor(() => cand.provider.status === 'offline');
    mainFile(cand).delete(0, 1);
    sent.length = 0;
    const third = await startNode({ dataDir }, { port, coldApplyAfterMs: 60_000 });
    await waitFor(() => cand.provider.status === 'connected' && cand.provider.pending === 0, 10_000);
    expect(sent).toContain('doc:update');
    const stored = await api(third.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(stored.body.files['main.ts']).toBe(text.slice(1));
  });

  it('after a restore that lost acknowledged edits, a reconnecting writer gives the node its deletions back', async () => {
    const dataDir = tempDir();
    const first = await startNode({ dataDir });
    const port = Number(new URL(first.url).port);
    const iv = await createInterview(first);
    const id = iv.interview.id;
    const cand = await connectClient(first.url, await iv.invite('candidate'));
    const observer = await connectClient(first.url, await iv.invite('observer'));
    mainFile(cand).insert(0, 'keep this; drop this');
    await waitFor(() => cand.provider.pending === 0);
    const restorePoint = (await first.server.ctx.store.readEvents(id, {})).at(-1)!.seq;
    mainFile(cand).delete(10, 10);
    await waitFor(() => cand.provider.pending === 0 && observer.text() === 'keep this;');
    await first.close();
    await waitFor(() => cand.provider.status === 'offline');

    // The database as a backup taken before the deletion would restore it. A
    // deletion leaves the state vectors as they were, so only the delete set
    // a client offers after reconnecting can bring it back.
    const db = new SQLite(join(dataDir, 'duet.sqlite'));
    db.prepare('DELETE FROM events WHERE interview_id = ? AND seq > ?').run(id, restorePoint);
    db.prepare('UPDATE interviews SET last_seq = ? WHERE id = ?').run(restorePoint, id);
    db.close();

    await startNode({ dataDir }, { port });
    await waitFor(async () => {
      const doc = await api(first.url, `/api/interviews/${id}/document`, { token: iv.token });
      return doc.body.files['main.ts'] === 'keep this;';
    }, 10_000);
    expect(observer.provider.pending).toBe(0);
  });

  it('an edit whose ack is lost with the connection stays pending until a later sync stores it', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const cand = await connectClient(node.url, await iv.invite('candidate'));
    const before = cand.text();
    mainFile(cand).insert(0, 'x');
    mainFile(cand).delete(1, 1);
    // The edits leave, and the connection closes before their acks can come back.
    cand.socket.io.engine.close();
    expect(cand.provider.pending).toBeGreaterThan(0);
    await waitFor(() => cand.provider.status === 'connected' && cand.provider.pending === 0, 10_000);
    const doc = await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(doc.body.files['main.ts']).toBe('x' + before.slice(1));
  });
  it('an edit whose ack does not come back in time is sent again by a sync, and logged once', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const socket = connectSocket(node.url, await iv.invite('candidate', 'Cat'));
    const provider = new DuetProvider(socket, ['main'], { ackTimeoutMs: 300 });
    let release = () => {};
    try {
      await provider.whenSynced('main');
      const files = provider.doc('main').getMap<Y.Text>('files');
      await waitFor(() => files.size > 0);
      // The node's next commit hangs until released: its ack cannot come back in time.
      const store = node.server.ctx.store;
      const appendMany = store.appendMany.bind(store);
      const hung = new Promise<void>((r) => (release = r));
      let armed = true;
      store.appendMany = async (items, options) => {
        if (armed) {
          armed = false;
          await hung;
        }
        return appendMany(items, options);
      };
      const sent: string[] = [];
      socket.onAnyOutgoing((event) => sent.push(event));
      [...files.values()][0]!.insert(0, 'late-ack ');
      // Past the timeout the edit counts as not stored, and the next sync sends it again.
      await waitFor(() => sent.filter((e) => e === 'doc:update').length >= 2, 5000);
      expect(sent).toContain('doc:sync');
      expect(provider.pending).toBeGreaterThan(0);
      release();
      await waitFor(() => provider.pending === 0, 5000);
      const doc = await api(node.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
      expect(doc.body.files['main.ts'].startsWith('late-ack ')).toBe(true);
      const logged = (await store.readEvents(iv.interview.id, {})).filter((e) => e.type === 'doc' && e.actor.name === 'Cat');
      expect(logged).toHaveLength(1);
    } finally {
      release();
      provider.destroy();
      socket.disconnect();
    }
  });
});

/** A node, an interview and its candidate Cy (`token`: Cy's invite), with the joins and leaves of Cy the log holds. */
async function leavingCandidate() {
  const node = await startNode();
  const iv = await createInterview(node);
  const token = await iv.invite('candidate', 'Cy');
  const cy = await connectClient(node.url, token);
  const sub = cy.provider.session!.you.sub;
  type Logged = { type: string; at: string; actor: { sub: string }; data: { conn?: string } };
  const ofCy = async (type: 'join' | 'leave') =>
    ((await api(node.url, `/api/interviews/${iv.interview.id}/events?after=0`, { token: iv.token })).body.events as Logged[]).filter(
      (e) => e.type === type && e.actor.sub === sub,
    );
  return { node, cy, token, leaves: () => ofCy('leave'), joins: () => ofCy('join') };
}
