/**
 * Three nodes in one process on the machine's Redis and PostgreSQL: chat,
 * edits, notes and participants cross nodes, and the join rule holds while
 * writers on other nodes keep typing. A third node that is stuck stops none
 * of it on the other two.
 */
import { pino } from 'pino';
import { createClient } from '@redis/client';
import { Server } from 'socket.io';
import * as Y from 'yjs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createRedisAdapter } from '../server/adapter.js';
import type { ChatMessage, Participant } from '../shared/protocol.js';
import { listParticipants } from '../server/realtime/participants.js';
import { api, connectClient, connectSocket, createInterview, mainFile, nextEvent, refusal, seededRandom, startNode, waitFor, type TestClient } from './helpers.js';
import { startCluster, textFromLog, tokensOf, typistOn } from './fixtures/multi-node.js';
import { spawnNode } from './fixtures/processes.js';
import { PG_URL, REDIS_URL, spawnRedis, tcpProxy, uniquePrefix } from './fixtures/services.js';

function lastParticipants(client: TestClient): () => Participant[] {
  let latest: Participant[] = client.provider.session?.participants ?? [];
  client.socket.on('participants', (list) => {
    latest = list;
  });
  return () => latest;
}

const online = (list: Participant[]) =>
  list
    .filter((p) => p.online)
    .map((p) => p.name)
    .sort();

describe.each(['sharded', 'classic'] as const)('three nodes, %s Redis adapter', (redisAdapter) => {
  it('carries edits, notes, chat and participants across nodes', async () => {
    const { nodes } = await startCluster(3, { redisAdapter });
    const [n0, n1, n2] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]];
    const iv = await createInterview(n0);
    const ada = await connectClient(n0.url, await iv.invite('interviewer', 'Ada'), ['main', 'notes']);
    const adaSees = lastParticipants(ada);
    const cy = await connectClient(n1.url, await iv.invite('candidate', 'Cy'));
    const cySees = lastParticipants(cy);
    const obi = await connectClient(n2.url, await iv.invite('observer', 'Obi'), ['main', 'notes']);
    const obiSees = lastParticipants(obi);

    // Participants: everyone online on every node, and every node agrees.
    for (const sees of [adaSees, cySees, obiSees]) await waitFor(() => online(sees()).join() === 'Ada,Cy,Obi');
    for (const node of nodes) {
      const { list, complete } = await listParticipants(node.server.ctx, iv.interview.id);
      expect(online(list)).toEqual(['Ada', 'Cy', 'Obi']);
      expect(complete).toBe(true);
    }

    // Edits both ways across nodes.
    mainFile(ada).insert(0, 'function add(a, b) {\n');
    await waitFor(() => cy.text() === 'function add(a, b) {\n' && obi.text() === cy.text());
    mainFile(cy).insert(mainFile(cy).length, '  return a + b;\n}\n');
    await waitFor(() => ada.text().endsWith('}\n') && obi.text() === ada.text());

    // Notes: panel only, across nodes.
    ada.provider.doc('notes').getText('notes').insert(0, 'strong start');
    await waitFor(() => obi.provider.doc('notes').getText('notes').toString() === 'strong start');

    // Room chat reaches everyone else; panel chat only the panel.
    const cyGets = nextEvent<ChatMessage>(cy.socket, 'chat:message');
    const obiGets = nextEvent<ChatMessage>(obi.socket, 'chat:message');
    const sent = await ada.socket.emitWithAck('chat:send', { channel: 'room', text: 'hello from node 0' });
    expect(sent).toHaveProperty('message');
    expect((await cyGets).text).toBe('hello from node 0');
    expect((await obiGets).text).toBe('hello from node 0');
    const cyPanel: ChatMessage[] = [];
    cy.socket.on('chat:message', (m) => cyPanel.push(m));
    const adaGets = nextEvent<ChatMessage>(ada.socket, 'chat:message');
    await obi.socket.emitWithAck('chat:send', { channel: 'panel', text: 'panel only' });
    expect(await adaGets).toMatchObject({ channel: 'panel', text: 'panel only', from: { name: 'Obi' } });
    // A room message after it: once Cy has that, it would have had the panel one.
    await cy.socket.emitWithAck('chat:send', { channel: 'room', text: 'ping' });
    await nextEvent<ChatMessage>(ada.socket, 'chat:message');
    expect(cyPanel).toEqual([]);

    // Leaving on one node is seen on the others.
    obi.provider.destroy();
    obi.socket.disconnect();
    for (const sees of [adaSees, cySees]) await waitFor(() => online(sees()).join() === 'Ada,Cy');
  });
});

describe('three nodes: the join rule under load', () => {
  it('200 rounds of joins on random nodes while writers on other nodes type end identical to the PostgreSQL log', async () => {
    const { nodes, schema } = await startCluster(3);
    const iv = await createInterview(nodes[0]!);
    const rnd = seededRandom(20261128);
    // Writers live on nodes 0 and 1, so every joiner has a writer on another node.
    const writers = [
      await typistOn(nodes[0]!.url, await iv.invite('interviewer', 'w0'), 'w0'),
      await typistOn(nodes[1]!.url, await iv.invite('candidate', 'w1'), 'w1'),
    ];
    const joinerTokens = await Promise.all(Array.from({ length: 8 }, (_, i) => iv.invite('observer', `j${i}`)));
    const live: TestClient[] = [];

    for (let round = 0; round < 200; round++) {
      for (const w of writers) w.type(rnd);
      const mustHave = writers.flatMap((w) => [...w.acked]);
      const node = nodes[rnd(nodes.length)]!;
      // Writers keep typing, without waiting for acks, while the join is in flight
      // (a bounded number of keystrokes per round, whatever the machine's speed).
      let ticks = 0;
      const during = setInterval(() => {
        if (ticks++ < 3) for (const w of writers) w.type(rnd);
      }, 5);
      const joiner = await connectClient(node.url, joinerTokens[round % joinerTokens.length]!).finally(() => clearInterval(during));
      // The join rule: everything acknowledged before the join is there the moment it is synced.
      const got = new Set(tokensOf(joiner.text()));
      const missing = mustHave.filter((t) => !got.has(t));
      expect(missing, `round ${round} on ${node.url}`).toEqual([]);
      live.push(joiner);
      if (live.length > 6) {
        const old = live.splice(rnd(live.length), 1)[0]!;
        old.provider.destroy();
        old.socket.disconnect();
      }
    }

    // Every client, writers and joiners, converges on the text the log rebuilds.
    for (const w of writers) {
      await waitFor(() => w.client.provider.pending === 0, 30_000).catch(() => {
        throw new Error(`${w.name} still has ${w.client.provider.pending} edits unacknowledged`);
      });
    }
    const fromLog = await textFromLog(schema, iv.interview.id);
    const everyone = [...writers.map((w) => w.client), ...live];
    await waitFor(() => everyone.every((c) => c.text() === fromLog), 30_000).catch(() => {
      const off = everyone.filter((c) => c.text() !== fromLog).length;
      throw new Error(`${off} of ${everyone.length} clients differ from the log (${fromLog.length} chars)`);
    });
    const typed = writers.flatMap((w) => w.typed);
    expect(typed.length).toBeGreaterThan(400);
    expect(tokensOf(fromLog).sort()).toEqual([...typed].sort());
    expect(fromLog).toBe(tokensOf(fromLog).join(''));
    // And the REST view (any node) says the same.
    const doc = await api(nodes[2]!.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(doc.body.files['main.ts']).toBe(fromLog);
  }, 180_000);
});

describe('sharded adapter', () => {
  it('a join resolves only once Redis has the room channel subscribed (GOTCHAS 14)', async () => {
    // A private Redis: the test pauses it.
    const redis = await spawnRedis();
    const prefix = uniquePrefix();
    const handle = await createRedisAdapter({ redisUrl: redis.url, redisKeyPrefix: prefix, redisAdapter: 'sharded' }, pino({ level: 'silent' }));
    onTestFinished(() => handle.close());
    const io = new Server({ adapter: handle.adapter });
    onTestFinished(async () => {
      await io.of('/').adapter.close();
    });
    const probe = createClient({ url: redis.url });
    await probe.connect();
    onTestFinished(() => probe.close());
    // socket.join() returns what addAll returns; connection.ts awaits it before `session`.
    const adapter = io.of('/').adapter;
    for (let i = 0; i < 3; i++) {
      const room = `i:interview-${i}`;
      // Redis holds every command for 1 s: a join that did not wait for its
      // SSUBSCRIBE would resolve at once, with the channel not yet subscribed
      // (half of it is slack for this process stalling on a loaded machine).
      await probe.sendCommand(['CLIENT', 'PAUSE', '1000', 'ALL']);
      const started = performance.now();
      await adapter.addAll(`socket-${i}`, new Set([room]));
      expect(performance.now() - started).toBeGreaterThan(500);
      const reply = (await probe.sendCommand(['PUBSUB', 'SHARDNUMSUB', `${prefix}#sio#/#${room}#`])) as [string, number];
      expect(Number(reply[1]), room).toBe(1);
    }
    // A socket joining a room this node already has does not wait.
    const started = performance.now();
    await adapter.addAll('socket-again', new Set(['i:interview-0']));
    expect(performance.now() - started).toBeLessThan(500);
    // Unless that room's subscription is still on its way: a second socket
    // joining right behind the first waits for the same subscription.
    const room = 'i:interview-late';
    await probe.sendCommand(['CLIENT', 'PAUSE', '1000', 'ALL']);
    const both = performance.now();
    const first = adapter.addAll('socket-first', new Set([room]));
    const second = adapter.addAll('socket-second', new Set([room]));
    await second;
    expect(performance.now() - both).toBeGreaterThan(500);
    const reply = (await probe.sendCommand(['PUBSUB', 'SHARDNUMSUB', `${prefix}#sio#/#${room}#`])) as [string, number];
    expect(Number(reply[1])).toBe(1);
    await first;
  });

  it("an edit reaches the sender's own node's sockets without waiting for Redis to answer its publish", async () => {
    // A private Redis: the test pauses its writes, publishes included.
    const redis = await spawnRedis();
    const node = await startNode({ redisUrl: redis.url, redisKeyPrefix: uniquePrefix(), redisAdapter: 'sharded' });
    const iv = await createInterview(node);
    const ada = await connectClient(node.url, await iv.invite('interviewer', 'Ada'));
    const cy = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    const probe = createClient({ url: redis.url });
    await probe.connect();
    onTestFinished(() => probe.close());
    const receivedAfter = async (text: string) => {
      const started = performance.now();
      mainFile(ada).insert(0, text);
      await waitFor(() => mainFile(cy).toString().includes(text), 5000, 5);
      return performance.now() - started;
    };
    // Warm: the first edit's path compiles.
    await receivedAfter('warm ');
    await probe.sendCommand(['CLIENT', 'PAUSE', '3000', 'WRITE']);
    // Committed to the database and handed to Cy at once; the publish waits for Redis.
    expect(await receivedAfter('now ')).toBeLessThan(1500);
    await waitFor(() => ada.provider.pending === 0, 5000);
  }, 30_000);
});

describe('lost broadcasts', () => {
  it('a client that missed a broadcast (its node died between commit and publish) fills the gap from the log', async () => {
    const { nodes } = await startCluster(2);
    const iv = await createInterview(nodes[0]!);
    const a = await connectClient(nodes[0]!.url, await iv.invite('candidate', 'Cy'));
    const b = await connectClient(nodes[1]!.url, await iv.invite('interviewer', 'Ada'));
    // b's socket loses the next doc:update, as if the node that committed it died before publishing.
    const socket = b.socket as unknown as { onevent: (packet: { data: unknown[] }) => void };
    const onevent = socket.onevent.bind(socket);
    let drop = true;
    socket.onevent = (packet) => {
      if (drop && packet.data[0] === 'doc:update') {
        drop = false;
        return;
      }
      onevent(packet);
    };
    mainFile(a).insert(0, 'lost ');
    await waitFor(() => a.provider.pending === 0);
    await waitFor(() => !drop);
    mainFile(a).insert(5, 'and found');
    // The second edit depends on the first: Yjs holds it until b syncs.
    await waitFor(() => b.text() === 'lost and found', 5000);
  });
});

describe('the document size limit across nodes', () => {
  it('a paste on one node counts text another node committed earlier, though this node never needed it', async () => {
    const { nodes } = await startCluster(2);
    const iv = await createInterview(nodes[0]!);
    const ada = await connectClient(nodes[0]!.url, await iv.invite('interviewer', 'Ada'));
    const cy = await connectClient(nodes[1]!.url, await iv.invite('candidate', 'Cy'));
    mainFile(ada).insert(0, 'a'.repeat(600_000));
    await waitFor(() => ada.provider.pending === 0, 10_000);
    await waitFor(() => cy.text().length === 600_000, 10_000);
    // A new file of its own: nothing in it depends on Ada's text, so node 1
    // has no reason of the update's to read the log before checking its size.
    let refused: { code: string } | undefined;
    cy.provider.on('refused', (e: { code: string }) => (refused = e));
    cy.provider.doc('main').getMap<Y.Text>('files').set('notes.txt', new Y.Text('b'.repeat(600_000)));
    await waitFor(() => refused !== undefined || cy.provider.pending === 0, 10_000);
    expect(refused?.code).toBe('too_large');
    const doc = await api(nodes[1]!.url, `/api/interviews/${iv.interview.id}/document`, { token: iv.token });
    expect(Object.keys(doc.body.files)).toEqual(['main.ts']);
    expect(doc.body.files['main.ts']).toBe('a'.repeat(600_000));
  }, 30_000);
});

describe('revocation across nodes', () => {
  it('an invite revoked through one node drops its sockets on the others and is refused at every node at once', async () => {
    const { nodes } = await startCluster(3);
    const iv = await createInterview(nodes[0]!);
    const id = iv.interview.id;
    const made = await api(nodes[0]!.url, `/api/interviews/${id}/invites`, { token: iv.token, body: { role: 'candidate', name: 'Cy' } });
    // The same link open twice, on the two nodes the revoke does not go through.
    const live = [nodes[1]!, nodes[2]!].map((n) => connectSocket(n.url, made.body.token, { reconnection: false }));
    await Promise.all(live.map((s) => nextEvent(s, 'session')));
    const told = live.map((s) => nextEvent<{ code: string }>(s, 'error'));
    const dropped = live.map((s) => new Promise<void>((resolve) => s.once('disconnect', () => resolve())));
    const revoked = await api(nodes[0]!.url, `/api/interviews/${id}/invites/${made.body.id}`, { token: iv.token, method: 'DELETE' });
    expect(revoked.status).toBe(200);
    expect((await Promise.all(told)).map((e) => e.code)).toEqual(['invite_revoked', 'invite_revoked']);
    await Promise.all(dropped);
    for (const n of nodes) {
      expect((await refusal(n.url, made.body.token)).code).toBe('invite_revoked');
      expect((await api(n.url, `/api/interviews/${id}`, { token: made.body.token })).status).toBe(401);
    }
  });
});


describe('revocation and deletion, with a node of an earlier build', () => {
  it('a node that does not hear the drop broadcast still has its revoked and deleted sockets dropped', async () => {
    const { nodes } = await startCluster(2);
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    // Node B as a build from before the broadcast: it does not listen for it.
    b.server.ctx.io.sockets.removeAllListeners('duet:sockets:drop');
    const iv = await createInterview(a);
    const id = iv.interview.id;
    const made = await api(a.url, `/api/interviews/${id}/invites`, { token: iv.token, body: { role: 'candidate', name: 'Cy' } });
    const cy = connectSocket(b.url, made.body.token, { reconnection: false });
    const ada = connectSocket(b.url, iv.token, { reconnection: false });
    await Promise.all([nextEvent(cy, 'session'), nextEvent(ada, 'session')]);
    const cyTold = nextEvent<{ code: string }>(cy, 'error');
    expect((await api(a.url, `/api/interviews/${id}/invites/${made.body.id}`, { token: iv.token, method: 'DELETE' })).status).toBe(200);
    expect((await cyTold).code).toBe('invite_revoked');
    const adaTold = nextEvent<{ code: string }>(ada, 'error');
    expect((await api(a.url, `/api/interviews/${id}`, { token: iv.token, method: 'DELETE' })).status).toBe(204);
    expect((await adaTold).code).toBe('not_found');
  });
});

describe.each(['sharded', 'classic'] as const)('a stuck node, %s Redis adapter', (redisAdapter) => {
  it('does not stop joins, participant lists, revokes or deletes on the other nodes', async () => {
    const { nodes, prefix, schema } = await startCluster(2, { redisAdapter });
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    // A third node, as a process, so it can be frozen: it stays subscribed (counted) but answers nothing,
    // as a node does whose host died without closing its connections.
    const stuck = await spawnNode({ REDIS_URL, REDIS_KEY_PREFIX: prefix, REDIS_ADAPTER: redisAdapter, DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema });
    await waitFor(async () => (await a.server.ctx.io.of('/').adapter.serverCount()) === 3 && (await b.server.ctx.io.of('/').adapter.serverCount()) === 3);
    process.kill(stuck.child.pid!, 'SIGSTOP');

    const iv = await createInterview(a);
    const ada = await connectClient(a.url, await iv.invite('interviewer', 'Ada'));
    const adaSees = lastParticipants(ada);
    const made = await api(a.url, `/api/interviews/${iv.interview.id}/invites`, { token: iv.token, body: { role: 'candidate', name: 'Cy' } });
    const cy = await connectClient(b.url, made.body.token);
    const cySees = lastParticipants(cy);
    for (const sees of [adaSees, cySees]) await waitFor(() => online(sees()).join() === 'Ada,Cy');
    mainFile(cy).insert(0, 'typed on node B');
    await waitFor(() => ada.text() === 'typed on node B');

    // Revoked through node A: Cy, on node B, is told and dropped; Ada sees Cy go.
    const told = nextEvent<{ code: string }>(cy.socket, 'error');
    const revoked = await api(a.url, `/api/interviews/${iv.interview.id}/invites/${made.body.id}`, { token: iv.token, method: 'DELETE' });
    expect(revoked.status).toBe(200);
    expect((await told).code).toBe('invite_revoked');
    await waitFor(() => online(adaSees()).join() === 'Ada');

    // Deleted through node B: Ada, on node A, is told and dropped.
    const gone = nextEvent<{ code: string }>(ada.socket, 'error');
    expect((await api(b.url, `/api/interviews/${iv.interview.id}`, { token: iv.token, method: 'DELETE' })).status).toBe(204);
    expect((await gone).code).toBe('not_found');
  }, 120_000);
});

describe('a node whose host is lost', () => {
  it('its clients notice the silence, come back through the load balancer to another node, and what they typed meanwhile arrives', async () => {
    const { nodes, prefix, schema } = await startCluster(1);
    const a = nodes[0]!;
    // The lost node, as a process, frozen: its connections stay open and nothing answers on them.
    // Pings of 2 s + 2 s: the default 10 + 10 s would be waited out here for nothing.
    const lost = await spawnNode({ REDIS_URL, REDIS_KEY_PREFIX: prefix, DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema, PING_INTERVAL_SECONDS: '2' });
    const [aPort, lostPort] = [Number(new URL(a.url).port), lost.port];
    let upstreams = [lostPort];
    const lb = await tcpProxy(() => upstreams);
    const iv = await createInterview(a);
    const ada = await connectClient(a.url, await iv.invite('interviewer', 'Ada'));
    const cy = await connectClient(lb.url(a.url), await iv.invite('candidate', 'Cy'));
    mainFile(cy).insert(0, 'before; ');
    await waitFor(() => ada.text() === 'before; ');

    process.kill(lost.child.pid!, 'SIGSTOP');
    const frozenAt = Date.now();
    // The balancer's health check takes the node out; Cy's open connection stays where it was.
    upstreams = [aPort];
    mainFile(cy).insert(mainFile(cy).length, 'typed while its node was silent');
    // Nothing closes Cy's connection: only the node's missing pings tell
    // Cy's client (within pingInterval + pingTimeout, 4 s here), which then
    // reconnects through the balancer.
    const closed = new Promise<{ reason: string; after: number }>((resolve) =>
      cy.socket.io.engine.once('close', (reason: string) => resolve({ reason, after: Date.now() - frozenAt })),
    );
    await waitFor(() => ada.text() === 'before; typed while its node was silent', 45_000, 100);
    const { reason, after } = await closed;
    expect(reason).toBe('ping timeout');
    // Within the 2 + 2 s the node told its client, not the default 10 + 10 s.
    expect(after).toBeLessThan(9_000);
    await waitFor(() => cy.provider.pending === 0);
    process.kill(lost.child.pid!, 'SIGKILL');
  }, 120_000);
});
