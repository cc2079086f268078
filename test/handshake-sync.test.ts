/**
 * A client's first sync of each document rides in the handshake (`auth.sync`,
 * base64 state vectors): the node answers with a `doc:sync` event as soon as
 * the socket is in the room, one round trip sooner than a `doc:sync` sent on
 * `connect`. The join rule for it is tested in early-sync.test.ts (the
 * provider asks this way); here: the wire, bad input, reconnects, and a
 * client meeting a node that predates it.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import * as Y from 'yjs';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { HandshakeSyncAnswer, SessionInfo } from '../shared/protocol.js';
import { DuetProvider, toBase64, toBytes } from '../shared/provider.js';
import { connectClient, connectSocket, createInterview, mainFile, nextEvent, refusal, startNode, waitFor } from './helpers.js';

const EMPTY_VECTOR = toBase64(Y.encodeStateVector(new Y.Doc()));

describe('sync in the handshake', () => {
  it('answers each document asked in auth.sync with a doc:sync event, and refuses what the role may not read', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const cy = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    mainFile(cy).insert(0, 'typed before');
    await waitFor(() => cy.provider.pending === 0);

    const ada = connectSocket(node.url, await iv.invite('interviewer', 'Ada'), { reconnection: false, auth: { sync: { main: EMPTY_VECTOR, notes: EMPTY_VECTOR } } });
    const doc = new Y.Doc();
    ada.on('doc:update', ({ doc: name, update }) => name === 'main' && Y.applyUpdate(doc, toBytes(update)));
    const answers: HandshakeSyncAnswer[] = [];
    ada.on('doc:sync', (a) => answers.push(a));
    const session = await nextEvent<SessionInfo>(ada, 'session');
    expect(session.handshakeSync).toEqual(['main', 'notes']);
    await waitFor(() => answers.length === 2);
    const main = answers.find((a) => a.doc === 'main')!;
    if ('error' in main) throw new Error(main.error.message);
    Y.applyUpdate(doc, toBytes(main.update));
    expect(doc.getMap<Y.Text>('files').get('main.ts')?.toString()).toBe('typed before');
    expect(Y.decodeStateVector(toBytes(main.stateVector))).toEqual(Y.decodeStateVector(Y.encodeStateVector(doc)));
    expect(answers.find((a) => a.doc === 'notes')).not.toHaveProperty('error');

    // A candidate never gets notes: asked in the handshake, refused like a doc:sync.
    const cy2 = connectSocket(node.url, await iv.invite('candidate', 'Cy2'), { reconnection: false, auth: { sync: { notes: EMPTY_VECTOR } } });
    const refused = await nextEvent<HandshakeSyncAnswer>(cy2, 'doc:sync');
    expect(refused).toMatchObject({ doc: 'notes', error: { code: 'forbidden' } });
  });

  it('refuses a handshake whose auth.sync is malformed, before joining anything', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const token = await iv.invite('candidate', 'Bad');
    const cases: Array<[unknown, string]> = [
      ['AA==', 'invalid_payload'],
      [{ main: 42 }, 'invalid_payload'],
      [{ main: 'not base64!' }, 'invalid_payload'],
      [{ main: 'AA=' }, 'invalid_payload'],
      [{ other: EMPTY_VECTOR }, 'invalid_payload'],
      [{ main: 'A'.repeat(100_000) }, 'too_large'],
    ];
    for (const [sync, code] of cases) expect((await refusal(node.url, token, { sync })).code).toBe(code);
    // A state vector that decodes as base64 but not as Yjs: the answer says so, as doc:sync's would.
    const odd = connectSocket(node.url, token, { reconnection: false, auth: { sync: { main: toBase64(new Uint8Array([5, 1])) } } });
    const [answer] = await Promise.all([nextEvent<HandshakeSyncAnswer>(odd, 'doc:sync'), nextEvent(odd, 'session')]);
    expect(answer).toMatchObject({ doc: 'main', error: { code: 'invalid_payload' } });
    // Nobody was let in by the refused handshakes: one join, the odd socket's.
    const joins = async () =>
      (await node.server.ctx.store.readEvents(iv.interview.id, {})).filter((e) => e.type === 'join' && e.actor.name === 'Bad').length;
    await waitFor(async () => (await joins()) === 1);
  });

  it('the provider syncs through the handshake on every connection, sending no doc:sync, and offline edits still arrive', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const ada = await connectClient(node.url, await iv.invite('interviewer', 'Ada'));
    const socket = connectSocket(node.url, await iv.invite('candidate', 'Cy'));
    const sent: string[] = [];
    socket.onAnyOutgoing((event) => sent.push(event));
    const cy = new DuetProvider(socket, ['main']);
    onTestFinished(() => cy.destroy());
    await cy.whenSynced('main');
    const text = () => cy.doc('main').getMap<Y.Text>('files').get('main.ts')!;
    text().insert(0, 'one ');
    await waitFor(() => ada.text() === 'one ');

    // Offline: the edit waits, and the next handshake carries the state vector of that moment.
    socket.io.engine.close();
    await waitFor(() => !socket.connected);
    text().insert(text().length, 'two');
    await waitFor(() => socket.connected && cy.docs.get('main')!.synced, 10_000);
    await waitFor(() => ada.text() === 'one two');
    await waitFor(() => cy.pending === 0);
    expect(sent.filter((e) => e === 'doc:sync')).toEqual([]);
    expect(sent.filter((e) => e === 'doc:update').length).toBeGreaterThanOrEqual(2);
  });

  it('with a node that predates it (no handshakeSync in session), the provider sends doc:sync itself', async () => {
    // An older node, as far as a client can tell: it ignores auth.sync and answers doc:sync acks.
    const stored = new Y.Doc();
    stored.getMap('files').set('main.ts', new Y.Text('from an older node'));
    const http = createServer();
    const io = new Server(http);
    io.on('connection', (socket) => {
      socket.on('doc:sync', (_req: unknown, ack: (reply: unknown) => void) =>
        ack({ update: Y.encodeStateAsUpdate(stored), stateVector: Y.encodeStateVector(stored) }),
      );
      socket.emit('session', { interview: {}, you: { sub: 's', name: 'n', role: 'interviewer' }, participants: [], chat: [], protocol: 1 });
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    onTestFinished(() => new Promise<void>((r) => io.close(() => r())));
    const socket = connectSocket(`http://127.0.0.1:${(http.address() as AddressInfo).port}`, 'token');
    const sent: string[] = [];
    socket.onAnyOutgoing((event) => sent.push(event));
    const provider = new DuetProvider(socket, ['main']);
    onTestFinished(() => provider.destroy());
    await provider.whenSynced('main');
    expect(provider.doc('main').getMap<Y.Text>('files').get('main.ts')?.toString()).toBe('from an older node');
    expect(sent).toContain('doc:sync');
  });
});
