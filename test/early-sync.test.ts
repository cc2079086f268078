/**
 * Clients sync right after connecting, before `session`, and the answer does
 * not wait for the parts of the join it does not depend on (participants,
 * chat). The join rule must still hold: a sync is answered only once the socket is in the interview's
 * channels, or an edit committed between the answer's read of the log and the
 * subscription would reach the joiner neither way. Here the subscription is
 * made slow on purpose (a Socket.IO adapter whose joins take 300 ms, as a
 * Redis round trip can under load) and an edit lands inside that window.
 */
import { Adapter } from 'socket.io-adapter';
import type { AdapterFactory } from '../server/adapter.js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { defaultConfig } from '../server/config.js';
import { openStore } from '../server/store/open-store.js';
import type { Store } from '../server/store/store.js';
import type { SessionInfo } from '../shared/protocol.js';
import { DuetProvider } from '../shared/provider.js';
import { connectClient, connectSocket, createInterview, mainFile, startNode, tempDir, waitFor, type TestNode } from './helpers.js';

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

/** A candidate types `text` (acknowledged), then an interviewer's provider starts joining. */
async function typedThenJoined(node: TestNode, text: string) {
  const iv = await createInterview(node);
  const writer = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
  mainFile(writer).insert(0, text);
  await waitFor(() => writer.provider.pending === 0);
  const socket = connectSocket(node.url, await iv.invite('interviewer', 'Ada'));
  return { writer, socket, joiner: new DuetProvider(socket, ['main']) };
}

describe('syncing before session', () => {
  it('answers a sync only once the socket is subscribed, so an edit made in between is not lost', async () => {
    // Socket.IO takes an adapter class (the option's type says factory).
    const node = await startNode({}, { adapter: SlowJoinAdapter as unknown as AdapterFactory });
    const { writer, socket, joiner } = await typedThenJoined(node, 'before ');
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

  it('a chat message and a language change made while the joiner subscribes reach it, in its session or as broadcasts', async () => {
    const node = await startNode({}, { adapter: SlowJoinAdapter as unknown as AdapterFactory });
    const iv = await createInterview(node, 'Two Sum', 'python');
    const ada = await connectClient(node.url, iv.token);
    const socket = connectSocket(node.url, await iv.invite('candidate', 'Cy'));
    // Listening from the start, as the browser client keeps what comes before `session`.
    const chats: string[] = [];
    const languages: string[] = [];
    socket.on('chat:message', (m) => chats.push(m.text));
    socket.on('interview', (i) => languages.push(i.language));
    const session = new Promise<SessionInfo>((resolve) => socket.once('session', resolve));
    await new Promise((resolve) => socket.once('connect', () => resolve(undefined)));
    // Connected, its subscription still being made: both are committed now.
    await new Promise((r) => setTimeout(r, JOIN_DELAY_MS / 3));
    expect(await ada.socket.emitWithAck('chat:send', { channel: 'room', text: 'during' })).toMatchObject({ message: { text: 'during' } });
    expect(await ada.socket.emitWithAck('interview:language', { language: 'go' })).toMatchObject({ ok: true, interview: { language: 'go' } });

    const { chat, interview } = await session;
    await new Promise((r) => setTimeout(r, 200)); // broadcasts sent just after `session`
    expect([...chat.map((m) => m.text), ...chats]).toContain('during');
    expect([interview.language, ...languages].at(-1)).toBe('go');
  });

  it('answers the sync without waiting for the participant list', async () => {
    // A real store whose participant listing is slow, as a busy database can be.
    const dataDir = tempDir();
    const real = await openStore(defaultConfig({ dataDir }));
    onTestFinished(() => real.close());
    const store = new Proxy(real, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver) as unknown;
        if (key !== 'listParticipants' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
        return async (...args: unknown[]) => {
          await new Promise((r) => setTimeout(r, 500));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as Store;
    const node = await startNode({ dataDir }, { store });
    const { joiner } = await typedThenJoined(node, 'hello');
    const order: string[] = [];
    joiner.on('session', () => order.push('session'));
    await joiner.whenSynced('main');
    order.push('synced');
    expect(joiner.doc('main').getMap('files').get('main.ts')?.toString()).toBe('hello');
    await waitFor(() => order.includes('session'));
    expect(order).toEqual(['synced', 'session']);
    joiner.destroy();
  });
});
