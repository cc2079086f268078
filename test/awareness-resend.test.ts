/**
 * A client sends its cursor when it changes, not every time the editor sets
 * it: while someone types, the cursor's relative position stays put, and an
 * awareness update per key would double what every peer receives. An
 * unchanged state still goes out now and then, or peers would drop it, and
 * at once when someone joins, whose node may not hold it.
 */
import { describe, expect, it } from 'vitest';
import { removeAwarenessStates } from 'y-protocols/awareness';
import * as Y from 'yjs';
import { startCluster } from './fixtures/multi-node.js';
import { connectClient, createInterview, mainFile, startNode, waitFor, type TestClient } from './helpers.js';

/** Sets a client's name in its awareness state, as the browser client does first thing. */
function named(client: TestClient, name: string): TestClient {
  // A state still at its first clock (0) is one no peer applies (y-protocols): a client is seen once it sets something.
  client.provider.awareness('main').setLocalStateField('user', { name });
  return client;
}

/**
 * Waits until each client holds the other's awareness state: a client
 * announces its state again when it sees someone new, and that must have
 * arrived before a test counts what comes after.
 */
async function meet(a: TestClient, b: TestClient): Promise<void> {
  const knows = (x: TestClient, y: TestClient) => x.provider.awareness('main').getStates().has(y.provider.doc('main').clientID);
  // The announces they owe each other go out 50 ms after a peer appears (a private timer, read here).
  const owes = (x: TestClient) => (x.provider as unknown as { announceTimers: Map<unknown, unknown> }).announceTimers.size > 0;
  await waitFor(() => knows(a, b) && knows(b, a) && !owes(a) && !owes(b));
  // Then a round trip each way: whatever either sent before has arrived.
  for (const [from, to] of [[a, b], [b, a]] as const) {
    const mark = `${Math.random()}`;
    from.provider.awareness('main').setLocalStateField('cursor', { file: mark, selections: [] });
    await waitFor(() => (to.provider.awareness('main').getStates().get(from.provider.doc('main').clientID) as any)?.cursor?.file === mark);
  }
}

/** Awareness events `client` receives from now on, and its view of `from`'s cursor. */
function watch(client: TestClient, from: TestClient) {
  let received = 0;
  client.socket.on('awareness', () => received++);
  const id = from.provider.doc('main').clientID;
  return {
    received: () => received,
    state: () => client.provider.awareness('main').getStates().get(id) as { cursor?: { file: string } } | undefined,
    clock: () => client.provider.awareness('main').meta.get(id)?.clock ?? -1,
  };
}

describe('awareness resend', () => {
  it('an unchanged local state is not sent again; a changed one is, at once', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const typist = named(await connectClient(node.url, await iv.invite('candidate', 'Cy')), 'Cy');
    const peer = named(await connectClient(node.url, await iv.invite('interviewer', 'Ida')), 'Ida');
    await meet(typist, peer);
    const seen = watch(peer, typist);
    const awareness = typist.provider.awareness('main');
    const text = mainFile(typist);
    text.insert(0, 'tail');
    // As the browser client publishes a caret: a Yjs relative position, anchored
    // to the character on its right (here the start of 'tail').
    let at = 0;
    const caret = () => {
      const position = Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(text, at));
      return { file: 'a', selections: [{ anchor: position, head: position }] };
    };
    awareness.setLocalStateField('cursor', caret());
    await waitFor(() => seen.state()?.cursor?.file === 'a');
    const before = seen.received();

    // What an editor does on every key: insert at the caret, then set the caret after it.
    for (let i = 0; i < 20; i++) {
      text.insert(at, 'x');
      at++;
      awareness.setLocalStateField('cursor', caret());
    }
    // A change after them: anything sent before it arrives before it (one connection, in order).
    awareness.setLocalStateField('cursor', { ...caret(), file: 'b' });
    await waitFor(() => seen.state()?.cursor?.file === 'b');
    expect(seen.received() - before).toBe(1);
    await waitFor(() => mainFile(peer).toString() === text.toString());
    expect(text.toString().startsWith(`${'x'.repeat(20)}tail`)).toBe(true);
  });

  it('an unchanged state is sent again once the resend interval has passed, so peers keep it', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const resendMs = 1500;
    const typist = named(await connectClient(node.url, await iv.invite('candidate', 'Cy'), ['main'], { awarenessResendMs: resendMs }), 'Cy');
    const peer = named(await connectClient(node.url, await iv.invite('interviewer', 'Ida')), 'Ida');
    await meet(typist, peer);
    const seen = watch(peer, typist);
    const awareness = typist.provider.awareness('main');

    awareness.setLocalStateField('cursor', { file: 'a', selections: [] });
    await waitFor(() => seen.state()?.cursor?.file === 'a');
    const sentAt = performance.now();
    const [received, clock] = [seen.received(), seen.clock()];
    awareness.setLocalStateField('cursor', { file: 'a', selections: [] }); // too soon: not sent
    // An edit after it, on the same connection: once the peer has it, anything sent before has arrived.
    mainFile(typist).insert(0, 'x');
    await waitFor(() => mainFile(peer).toString().startsWith('x'));
    expect(seen.received()).toBe(received);
    await new Promise((r) => setTimeout(r, resendMs + 50 - (performance.now() - sentAt)));
    awareness.setLocalStateField('cursor', { file: 'a', selections: [] }); // the interval has passed: sent, a renewal
    // The renewal carries the typist's newest clock (two sets later).
    await waitFor(() => seen.clock() === clock + 2);
    expect(seen.received()).toBe(received + 1);
  });

  it('a state removed or set for the first time is always sent', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const typist = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const peer = await connectClient(node.url, await iv.invite('interviewer', 'Ida'));
    const seen = watch(peer, typist);
    const awareness = typist.provider.awareness('main');
    awareness.setLocalStateField('cursor', { file: 'a', selections: [] });
    await waitFor(() => seen.state()?.cursor?.file === 'a');
    awareness.setLocalState(null);
    await waitFor(() => seen.state() === undefined);
    awareness.setLocalState({ cursor: { file: 'a', selections: [] } });
    await waitFor(() => seen.state()?.cursor?.file === 'a');
  });

  it('someone joining through another node gets an idle cursor at once: its owner announces it again', async () => {
    const { nodes } = await startCluster(2);
    const iv = await createInterview(nodes[0]!);
    const typist = await connectClient(nodes[0]!.url, await iv.invite('candidate', 'Cy'));
    const id = typist.provider.doc('main').clientID;
    typist.provider.awareness('main').setLocalStateField('cursor', { file: 'idle', selections: [] });
    const early = named(await connectClient(nodes[0]!.url, await iv.invite('interviewer', 'Ida')), 'Ida');
    await waitFor(() => (early.provider.awareness('main').getStates().get(id) as any)?.cursor?.file === 'idle');

    // Node 1 never held the typist's state (awareness is relayed, not stored, across nodes),
    // and the typist sets nothing from here on: y-protocols' renewal is 15 s or more away
    // (8 s of waiting still tells "at once" from that, on a loaded machine too).
    const late = named(await connectClient(nodes[1]!.url, await iv.invite('observer', 'Obi')), 'Obi');
    await waitFor(() => (late.provider.awareness('main').getStates().get(id) as any)?.cursor?.file === 'idle', 8000);
  });

  it('a client reconnecting through another node gets an idle cursor at once, though its peers still held its state', async () => {
    const { nodes } = await startCluster(2);
    const iv = await createInterview(nodes[0]!);
    const typist = named(await connectClient(nodes[0]!.url, await iv.invite('candidate', 'Cy')), 'Cy');
    const id = typist.provider.doc('main').clientID;
    typist.provider.awareness('main').setLocalStateField('cursor', { file: 'idle', selections: [] });
    const watcher = named(await connectClient(nodes[1]!.url, await iv.invite('interviewer', 'Ida')), 'Ida');
    const watcherSees = () => (watcher.provider.awareness('main').getStates().get(id) as any)?.cursor?.file;
    await waitFor(() => watcherSees() === 'idle');

    // The watcher's connection drops and comes back (to node 1, which never held the
    // typist's state). Node 1 tells the typist the watcher left, so its return is an
    // appearance; after a silent node death the removal-and-set does that
    // (test/multi-node-processes.test.ts).
    watcher.socket.io.engine.close();
    await waitFor(() => watcherSees() === undefined); // dropped on disconnect
    await waitFor(() => watcher.provider.status === 'connected');
    await waitFor(() => watcherSees() === 'idle', 8000); // y-protocols' renewal is 15 s or more away
  });

  it('a state the node refused for its rate is sent again once the rate allows, not counted as sent', async () => {
    // A budget a join fits in, and a burst of cursor moves does not.
    const node = await startNode({ socketEventsPerSecond: 5, socketEventBurst: 30 });
    const iv = await createInterview(node);
    const typist = named(await connectClient(node.url, await iv.invite('candidate', 'Cy')), 'Cy');
    const peer = named(await connectClient(node.url, await iv.invite('interviewer', 'Ida')), 'Ida');
    await meet(typist, peer);
    const seen = watch(peer, typist);
    const refused: string[] = [];
    typist.socket.on('error', (e: { code: string }) => refused.push(e.code));
    const awareness = typist.provider.awareness('main');
    for (let i = 0; i < 60; i++) awareness.setLocalStateField('cursor', { file: `m${i}`, selections: [] });
    await waitFor(() => refused.includes('rate_limited'));
    // The last move was refused with the others past the budget; it arrives all the same, in about a second.
    await waitFor(() => seen.state()?.cursor?.file === 'm59', 5000);
  });

  it("a peer this client timed out is not removed for everyone: only the client's own state is sent", async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const a = named(await connectClient(node.url, await iv.invite('candidate', 'Cy')), 'Cy');
    const b = named(await connectClient(node.url, await iv.invite('interviewer', 'Ida')), 'Ida');
    const c = named(await connectClient(node.url, await iv.invite('observer', 'Obi')), 'Obi');
    await meet(a, b);
    await meet(a, c);
    await meet(b, c);
    const errors: string[] = [];
    a.socket.on('error', (e: { code: string }) => errors.push(e.code));
    const bId = b.provider.doc('main').clientID;
    // What y-protocols does to a peer not renewed for 30 s (a throttled background tab, say).
    removeAwarenessStates(a.provider.awareness('main'), [bId], 'timeout');
    // A's own next state still goes out, and C still sees B.
    a.provider.awareness('main').setLocalStateField('cursor', { file: 'after', selections: [] });
    await waitFor(() => (c.provider.awareness('main').getStates().get(a.provider.doc('main').clientID) as any)?.cursor?.file === 'after');
    expect(c.provider.awareness('main').getStates().has(bId)).toBe(true);
    expect(errors).toEqual([]);
  });
});
