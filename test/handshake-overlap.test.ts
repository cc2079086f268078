/**
 * A handshake's checks and the room's load overlap: while a node checks the
 * invite against the database, the room loads and the socket subscribes to
 * the interview's channels. Broadcasts reach a socket only once it is
 * connected, though, so the join rule still needs a read of the log after
 * the connection: an edit committed on another node while the handshake
 * waits must reach the joiner, even when the room read the log in between.
 * A refused handshake leaves neither a room nor a subscription behind.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { defaultConfig } from '../server/config.js';
import { channelOf } from '../server/context.js';
import type { Room } from '../server/rooms/room.js';
import { openStore } from '../server/store/open-store.js';
import type { Store } from '../server/store/store.js';
import { DuetProvider } from '../shared/provider.js';
import { api, connectClient, connectSocket, createInterview, mainFile, nextEvent, refusal, startNode, tempDir, waitFor, type TestNode } from './helpers.js';
import { startCluster } from './fixtures/multi-node.js';
import { PG_URL, REDIS_URL } from './fixtures/services.js';

/** A node beside a cluster's (its Redis prefix and schema), whose invite checks wait while `held` has the invite's id. */
async function nodeWithHeldInviteChecks(prefix: string, schema: string, redisAdapter: 'sharded' | 'classic') {
  const config = { redisUrl: REDIS_URL, redisKeyPrefix: prefix, redisAdapter, databaseUrl: PG_URL, databaseSchema: schema };
  const real = await openStore(defaultConfig({ ...config, dataDir: tempDir() }));
  onTestFinished(() => real.close());
  const held = new Map<string, Promise<void>>();
  const store = new Proxy(real, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (key !== 'isInviteRevoked') return value.bind(target);
      return async (id: string) => {
        await held.get(id);
        return (value as Store['isInviteRevoked']).call(target, id);
      };
    },
  }) as Store;
  // Rooms stay loaded while the test holds a handshake (test nodes unload them after 200 ms).
  const node = await startNode(config, { store, roomUnloadMs: 10_000 });
  return { node, held };
}

async function loadedRoom(node: TestNode, interviewId: string): Promise<Room> {
  let room: Room | undefined;
  await waitFor(async () => (room = await node.server.ctx.rooms.peek(interviewId)) !== undefined);
  return room!;
}

const subscribers = (node: TestNode, interviewId: string) => node.server.ctx.io.of('/').adapter.rooms.get(channelOf.all(interviewId))?.size ?? 0;

describe.each(['sharded', 'classic'] as const)('a handshake on a cold room, %s Redis adapter', (redisAdapter) => {
  it('loads the room and subscribes while the invite is checked, and the joiner still gets an edit committed meanwhile', async () => {
    const { nodes, prefix, schema } = await startCluster(1, { redisAdapter });
    const a = nodes[0]!;
    const { node: b, held } = await nodeWithHeldInviteChecks(prefix, schema, redisAdapter);
    const iv = await createInterview(a);
    const id = iv.interview.id;
    const writer = await connectClient(a.url, await iv.invite('candidate', 'Cy'));
    mainFile(writer).insert(0, 'before ');
    await waitFor(() => writer.provider.pending === 0);

    const invite = await api(a.url, `/api/interviews/${id}/invites`, { token: iv.token, body: { role: 'interviewer', name: 'Ada' } });
    let release!: () => void;
    held.set(invite.body.id, new Promise((r) => (release = r)));
    const socket = connectSocket(b.url, invite.body.token);
    const joiner = new DuetProvider(socket, ['main']);
    onTestFinished(() => joiner.destroy());

    // The invite check is still waiting: the room has loaded on b, the socket is in its channel.
    const room = await loadedRoom(b, id);
    await waitFor(() => subscribers(b, id) === 1);
    expect(socket.connected).toBe(false);
    // Something reads the log after that subscription (another joiner's sync,
    // a snapshot), then an edit is committed on a, its broadcast reaching b
    // before the socket is connected.
    await room.catchUp();
    mainFile(writer).insert(mainFile(writer).length, 'during');
    await waitFor(() => writer.provider.pending === 0);
    // The joiner will be answered from this very room, loaded during its handshake.
    expect(await b.server.ctx.rooms.peek(id)).toBe(room);
    release();

    await joiner.whenSynced('main');
    expect(joiner.doc('main').getMap('files').get('main.ts')?.toString()).toBe('before during');
  });

  it('an interview ended while the handshake waits is ended in the joiner\'s session and stays ended in the room', async () => {
    const { nodes, prefix, schema } = await startCluster(1, { redisAdapter });
    const { node: b, held } = await nodeWithHeldInviteChecks(prefix, schema, redisAdapter);
    const iv = await createInterview(nodes[0]!);
    const id = iv.interview.id;
    const invite = await api(b.url, `/api/interviews/${id}/invites`, { token: iv.token, body: { role: 'interviewer', name: 'Ada' } });
    let release!: () => void;
    held.set(invite.body.id, new Promise((r) => (release = r)));
    const socket = connectSocket(b.url, invite.body.token);
    const session = nextEvent<{ interview: { status: string } }>(socket, 'session');
    const room = await loadedRoom(b, id);
    await waitFor(() => subscribers(b, id) === 1);
    expect((await api(b.url, `/api/interviews/${id}/end`, { token: iv.token, method: 'POST' })).status).toBe(200);
    await waitFor(() => room.interview.status === 'ended');
    release();

    expect((await session).interview.status).toBe('ended');
    expect(room.interview.status).toBe('ended');
  });

  it('a refused handshake leaves no room loaded and no channel subscribed', async () => {
    const { nodes } = await startCluster(1, { redisAdapter });
    const node = nodes[0]!;
    const iv = await createInterview(node);
    const id = iv.interview.id;
    const made = await api(node.url, `/api/interviews/${id}/invites`, { token: iv.token, body: { role: 'candidate', name: 'Cy' } });
    await api(node.url, `/api/interviews/${id}/invites/${made.body.id}`, { token: iv.token, method: 'DELETE' });

    // A token this node did not sign loads nothing: the load starts only once the token verifies.
    const forged = made.body.token.slice(0, -4) + (made.body.token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect((await refusal(node.url, forged)).code).toBe('invalid_token');
    expect(node.server.ctx.rooms.size).toBe(0);
    expect(subscribers(node, id)).toBe(0);

    expect((await refusal(node.url, made.body.token)).code).toBe('invite_revoked');
    // The room loaded during the check, and unloads like one everyone left.
    await waitFor(() => node.server.ctx.rooms.size === 0);
    expect(subscribers(node, id)).toBe(0);
    // It still loads for the next, accepted, handshake.
    const ada = await connectClient(node.url, await iv.invite('interviewer', 'Ada'));
    expect(ada.provider.session?.interview.id).toBe(id);
    expect(subscribers(node, id)).toBe(1);
  });
});
