/**
 * Clients sync right after connecting, before `session`. The join rule must
 * still hold: a sync is answered only once the socket is in the interview's
 * channels, or an edit committed between the answer's read of the log and the
 * subscription would reach the joiner neither way. Here the subscription is
 * made slow on purpose (a Socket.IO adapter whose joins take 300 ms, as a
 * Redis round trip can under load) and an edit lands inside that window.
 */
import { Adapter } from 'socket.io-adapter';
import type { AdapterFactory } from '../server/adapter.js';
import { describe, expect, it } from 'vitest';
import { DuetProvider } from '../shared/provider.js';
import { connectClient, connectSocket, createInterview, mainFile, startNode, waitFor } from './helpers.js';

const JOIN_DELAY_MS = 300;

class SlowJoinAdapter extends Adapter {
  override addAll(id: string, rooms: Set<string>): Promise<void> {
    return new Promise((resolve) =>
      setTimeout(() => {
        super.addAll(id, rooms);
        resolve();
      }, JOIN_DELAY_MS),
    );
  }
}

describe('syncing before session', () => {
  it('answers a sync only once the socket is subscribed, so an edit made in between is not lost', async () => {
    // Socket.IO takes an adapter class (the option's type says factory).
    const node = await startNode({}, { adapter: SlowJoinAdapter as unknown as AdapterFactory });
    const iv = await createInterview(node);
    const writer = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    mainFile(writer).insert(0, 'before ');
    await waitFor(() => writer.provider.pending === 0);

    const socket = connectSocket(node.url, await iv.invite('interviewer', 'Ada'));
    const joiner = new DuetProvider(socket, ['main']);
    await new Promise((resolve) => socket.once('connect', () => resolve(undefined)));
    // The joiner has asked for the document; its subscription is still being made.
    await new Promise((r) => setTimeout(r, JOIN_DELAY_MS / 3));
    mainFile(writer).insert(mainFile(writer).length, 'during');
    await waitFor(() => writer.provider.pending === 0);

    await joiner.whenSynced('main');
    const text = () => joiner.doc('main').getMap('files').get('main.ts')?.toString();
    expect(text()).toBe('before during');
    joiner.destroy();
  });
});
