/**
 * A client sends its cursor when it changes, not every time the editor sets
 * it: while someone types, the cursor's relative position stays put, and an
 * awareness update per key would double what every peer receives. An
 * unchanged state still goes out now and then, or peers would drop it.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { connectClient, createInterview, mainFile, startNode, waitFor, type TestClient } from './helpers.js';

/** Awareness events `client` receives from now on, and its view of `from`'s cursor. */
function watch(client: TestClient, from: TestClient) {
  let received = 0;
  client.socket.on('awareness', () => received++);
  const id = from.provider.doc('main').clientID;
  return {
    received: () => received,
    state: () => client.provider.awareness('main').getStates().get(id) as { cursor?: { mark: string } } | undefined,
    clock: () => client.provider.awareness('main').meta.get(id)?.clock ?? -1,
  };
}

describe('awareness resend', () => {
  it('an unchanged local state is not sent again; a changed one is, at once', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const typist = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const peer = await connectClient(node.url, await iv.invite('interviewer', 'Ida'));
    const seen = watch(peer, typist);
    const awareness = typist.provider.awareness('main');

    const text = mainFile(typist);
    // As the browser client publishes a caret: a Yjs relative position, here at the end of the text.
    const caret = () => ({ mark: 'a', at: Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(text, text.length)) });
    awareness.setLocalStateField('cursor', caret());
    await waitFor(() => seen.state()?.cursor?.mark === 'a');
    const before = seen.received();

    // What an editor does on every key: the caret's relative position stays put while it types.
    for (let i = 0; i < 20; i++) {
      text.insert(text.length, 'x');
      awareness.setLocalStateField('cursor', caret());
    }
    // A change after them: anything sent before it arrives before it (one connection, in order).
    awareness.setLocalStateField('cursor', { mark: 'b' });
    await waitFor(() => seen.state()?.cursor?.mark === 'b');
    expect(seen.received() - before).toBe(1);
    await waitFor(() => mainFile(peer).length === text.length);
  });

  it('an unchanged state is sent again once the resend interval has passed, so peers keep it', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const typist = await connectClient(node.url, await iv.invite('candidate', 'Cy'), ['main'], { awarenessResendMs: 300 });
    const peer = await connectClient(node.url, await iv.invite('interviewer', 'Ida'));
    const seen = watch(peer, typist);
    const awareness = typist.provider.awareness('main');

    awareness.setLocalStateField('cursor', { mark: 'a' });
    await waitFor(() => seen.state()?.cursor?.mark === 'a');
    const clock = seen.clock();
    awareness.setLocalStateField('cursor', { mark: 'a' }); // too soon: skipped
    await new Promise((r) => setTimeout(r, 350));
    awareness.setLocalStateField('cursor', { mark: 'a' }); // the interval has passed: sent, a renewal
    // The renewal carries the typist's newest clock (two sets later).
    await waitFor(() => seen.clock() === clock + 2);
    expect(seen.state()?.cursor?.mark).toBe('a');
  });

  it('a state removed or set for the first time is always sent', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const typist = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const peer = await connectClient(node.url, await iv.invite('interviewer', 'Ida'));
    const seen = watch(peer, typist);
    const awareness = typist.provider.awareness('main');
    awareness.setLocalStateField('cursor', { mark: 'a' });
    await waitFor(() => seen.state()?.cursor?.mark === 'a');
    awareness.setLocalState(null);
    await waitFor(() => seen.state() === undefined);
    awareness.setLocalState({ cursor: { mark: 'a' } });
    await waitFor(() => seen.state()?.cursor?.mark === 'a');
  });
});
