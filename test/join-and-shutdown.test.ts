/**
 * Edges of a socket's life on one node: a join that fails half-way gives its
 * place in the room back (or the room would never unload), and a node that
 * shuts down tells its clients before it drops them (the notice is queued in
 * the same tick as the close, which write coalescing must not lose).
 */
import { describe, expect, it } from 'vitest';
import { connectClient, connectSocket, createInterview, nextEvent, startNode, waitFor } from './helpers.js';

describe('join failures and shutdown', () => {
  it('a join that fails after the room loaded releases the room, so it unloads', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const { store, rooms } = node.server.ctx;
    // Fault injection: the chat history read fails once, after the room itself has loaded.
    const recentChat = store.recentChat.bind(store);
    let failures = 1;
    store.recentChat = async (...args) => {
      if (failures-- > 0) throw new Error('injected: database unreachable');
      return recentChat(...args);
    };
    const socket = connectSocket(node.url, await iv.invite('candidate', 'Cy'), { reconnection: false });
    const error = await nextEvent<{ code: string }>(socket, 'error');
    expect(error.code).toBe('unavailable');
    await waitFor(() => socket.disconnected);
    // Loaded, then released: with nobody in it the room unloads (200 ms in tests).
    await waitFor(async () => (await rooms.peek(iv.interview.id)) === undefined, 3000);

    // The next join works and counts exactly one socket.
    const ok = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    expect(ok.socket.connected).toBe(true);
    expect((await rooms.peek(iv.interview.id))?.sockets).toBe(1);
  });

  it('tells its clients it is shutting down before it closes their connections', async () => {
    const node = await startNode({}, { keepOpen: true });
    const iv = await createInterview(node);
    const client = await connectClient(node.url, await iv.invite('interviewer', 'Ada'));
    const notice = nextEvent<{ code: string }>(client.socket, 'error');
    await node.close();
    expect((await notice).code).toBe('unavailable');
  });
});
