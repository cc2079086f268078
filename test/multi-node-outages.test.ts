/**
 * The services under the nodes go away and come back: Redis restarts under
 * live rooms, and PostgreSQL becomes unreachable mid-typing.
 */
import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../shared/protocol.js';
import { api, connectClient, createInterview, mainFile, nextEvent, startNode, waitFor, type TestClient, type TestNode } from './helpers.js';
import { expectEverythingKept, keepTyping, typist } from './fixtures/multi-node.js';
import { freePort, PG_URL, REDIS_URL, spawnRedis, tcpProxy, uniquePrefix, uniqueSchema } from './fixtures/services.js';

const ready = async (node: TestNode) => (await api(node.url, '/readyz')).status;

async function chatCrosses(from: TestClient, to: TestClient, text: string) {
  const got = nextEvent<ChatMessage>(to.socket, 'chat:message', 3000);
  await from.socket.timeout(3000).emitWithAck('chat:send', { channel: 'room', text });
  expect((await got).text).toBe(text);
}

describe('outages', () => {
  it.each(['sharded', 'classic'] as const)(
    'a Redis restart under live rooms (%s adapter): nodes re-subscribe, broadcasts work again, clients resync',
    async (redisAdapter) => {
      const redis = await spawnRedis();
      const schema = uniqueSchema();
      const config = { redisUrl: redis.url, redisKeyPrefix: uniquePrefix(), redisAdapter, databaseUrl: PG_URL, databaseSchema: schema };
      const n0 = await startNode(config);
      const n1 = await startNode(config);
      const iv = await createInterview(n0);
      const a = await connectClient(n0.url, await iv.invite('interviewer', 'Ada'));
      const b = await connectClient(n1.url, await iv.invite('candidate', 'Cy'));
      await chatCrosses(a, b, 'before');

      await redis.stop();
      await waitFor(async () => (await ready(n0)) === 503 && (await ready(n1)) === 503);
      // Acknowledged (PostgreSQL is fine) but not broadcast: Redis is down.
      mainFile(a).insert(0, 'typed while Redis was down; ');
      await waitFor(() => a.provider.pending === 0);

      await redis.start();
      await waitFor(async () => (await ready(n0)) === 200 && (await ready(n1)) === 200, 10_000);
      // The nodes made their clients resync: the edit the lost broadcast carried arrives.
      await waitFor(() => b.text() === 'typed while Redis was down; ', 10_000);
      await waitFor(() => a.provider.status === 'connected' && b.provider.status === 'connected');
      await chatCrosses(b, a, 'after, b to a');
      await chatCrosses(a, b, 'after, a to b');
      mainFile(b).insert(mainFile(b).length, 'and after.');
      await waitFor(() => a.text() === 'typed while Redis was down; and after.');
    },
    60_000,
  );

  it.each(['sharded', 'classic'] as const)(
    'Redis killed with broadcasts in flight (%s adapter): their publishes fail quietly, nothing goes unhandled, the node stays up',
    async (redisAdapter) => {
      const redis = await spawnRedis();
      const node = await startNode({ redisUrl: redis.url, redisKeyPrefix: uniquePrefix(), redisAdapter });
      // A publish in flight when the connection drops is rejected; uncaught, that
      // rejection ends a Node process (Node 20 throws on unhandled rejections).
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        let publishing = true;
        let sent = 0;
        // Broadcasts back to back, each a publish to Redis, while Redis is killed.
        const loop = () => {
          if (!publishing) return;
          for (let i = 0; i < 50; i++) node.server.ctx.io.to(`room-${i % 5}`).emit('participants', []);
          sent += 50;
          setImmediate(loop);
        };
        loop();
        await new Promise((r) => setTimeout(r, 300));
        await redis.stop();
        await new Promise((r) => setTimeout(r, 500));
        publishing = false;
        await new Promise((r) => setTimeout(r, 200));
        expect(sent).toBeGreaterThan(1000);
        expect((await api(node.url, '/healthz')).status).toBe(200);
        // And a node shut down while Redis is still away: what it had queued for Redis is dropped quietly too.
        await node.close();
        await new Promise((r) => setTimeout(r, 100));
        expect(unhandled.map(String)).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    },
    30_000,
  );

  it('a node with hundreds of rooms recovers from a Redis restart, and room subscriptions in flight then are asked again (sharded adapter)', async () => {
    const redis = await spawnRedis();
    const prefix = uniquePrefix();
    const node = await startNode({ redisUrl: redis.url, redisKeyPrefix: prefix, redisAdapter: 'sharded' });
    const adapter = node.server.ctx.io.of('/').adapter;
    // Rooms appearing back to back, each a new channel subscription, while Redis is killed.
    const rooms: string[] = [];
    let adding = true;
    const loop = () => {
      if (!adding || rooms.length >= 1500) return;
      for (let i = 0; i < 5; i++) {
        const room = `r${rooms.length}`;
        rooms.push(room);
        void adapter.addAll(`sid-${room}`, new Set([room]));
      }
      setImmediate(loop);
    };
    loop();
    await waitFor(() => rooms.length >= 400);
    await redis.stop();
    adding = false;
    await redis.start();
    await waitFor(async () => (await ready(node)) === 200, 15_000);

    const { createClient } = await import('@redis/client');
    const probe = createClient({ url: redis.url });
    await probe.connect();
    try {
      const channels = async () => new Set((await probe.sendCommand(['PUBSUB', 'SHARDCHANNELS', `${prefix}#sio#/#*`])) as string[]);
      // Every room the node holds is subscribed again, the ones whose subscription failed too.
      await waitFor(async () => {
        const live = await channels();
        return rooms.every((room) => live.has(`${prefix}#sio#/#${room}#`));
      }, 10_000);
      expect(rooms.length).toBeGreaterThanOrEqual(400);
    } finally {
      await probe.quit();
    }
  }, 60_000);

  it('while PostgreSQL is unreachable edits are not acknowledged and /readyz says so; once back, everything is persisted', async () => {
    const db = await tcpProxy(() => [Number(new URL(PG_URL).port || 5432)]);
    const schema = uniqueSchema();
    const config = {
      redisUrl: REDIS_URL,
      redisKeyPrefix: uniquePrefix(),
      databaseUrl: db.url(PG_URL),
      databaseSchema: schema,
    };
    const n0 = await startNode(config);
    const n1 = await startNode(config);
    const iv = await createInterview(n0);
    const typists = [
      typist(await connectClient(n0.url, await iv.invite('interviewer', 'p0')), 'p0'),
      typist(await connectClient(n1.url, await iv.invite('candidate', 'p1')), 'p1'),
    ];
    const stop = keepTyping(typists, 5);
    await new Promise((r) => setTimeout(r, 500));

    db.cut();
    await waitFor(async () => (await ready(n0)) === 503 && (await ready(n1)) === 503, 10_000);
    const ackedDuringCut = () => typists.reduce((n, t) => n + t.acked.size, 0);
    // Acks already on their way have landed by now; from here on nothing is acknowledged.
    await new Promise((r) => setTimeout(r, 300));
    const before = ackedDuringCut();
    await new Promise((r) => setTimeout(r, 1200));
    expect(ackedDuringCut()).toBe(before);
    const typedDuringCut = typists.reduce((n, t) => n + t.typed.length, 0);
    expect(typedDuringCut).toBeGreaterThan(before);
    // Reads fail the same way: a retryable 503 / `unavailable`, not a 500 `internal` (a bug).
    const read = await api(n0.url, `/api/interviews/${iv.interview.id}`, { token: iv.token });
    expect(read.status).toBe(503);
    expect(read.body.error.code).toBe('unavailable');
    // A sync after the first reads the log afresh.
    const sync = await typists[1]!.client.socket.timeout(10_000).emitWithAck('doc:sync', { doc: 'main', stateVector: new Uint8Array([0]) });
    expect(sync).toMatchObject({ error: { code: 'unavailable' } });

    db.restore();
    await waitFor(async () => (await ready(n0)) === 200 && (await ready(n1)) === 200, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    await stop();
    // The clients resend what was refused; all of it ends up in the log, acknowledged.
    await expectEverythingKept(typists, schema, iv.interview.id);
    await waitFor(() => typists.every((t) => t.typed.every((token) => t.acked.has(token))), 10_000);
  }, 60_000);

  it('a node started with a Redis URL that cannot work stops with the reason, naming REDIS_URL, instead of waiting for ever', async () => {
    const closed = await freePort();
    const started = Date.now();
    await expect(startNode({ redisUrl: `redis://127.0.0.1:${closed}`, redisKeyPrefix: uniquePrefix() }, { redisStartTimeoutMs: 1000 })).rejects.toThrow(
      new RegExp(`^cannot reach Redis at REDIS_URL within 1 s: .*ECONNREFUSED`),
    );
    // A database number this Redis does not have is a Redis that answers, and refuses.
    const [, db] = /^redis:\/\/[^/]+\/?(\d*)$/.exec(REDIS_URL) ?? [];
    if (db === '') {
      await expect(startNode({ redisUrl: `${REDIS_URL.replace(/\/$/, '')}/99999`, redisKeyPrefix: uniquePrefix() }, { redisStartTimeoutMs: 1000 })).rejects.toThrow(
        /^cannot reach Redis at REDIS_URL within 1 s: .*DB index/,
      );
    }
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('a node whose Redis comes up a little after it starts waits for it, and works', async () => {
    const redis = await spawnRedis();
    await redis.stop();
    const starting = startNode({ redisUrl: redis.url, redisKeyPrefix: uniquePrefix() }, { redisStartTimeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 1500));
    await redis.start();
    const node = await starting;
    expect((await fetch(`${node.url}/readyz`)).status).toBe(200);
    // A join waits for its room's channel in Redis: this one is answered.
    const iv = await createInterview(node);
    const cy = await connectClient(node.url, await iv.invite('candidate', 'Cy'));
    mainFile(cy).insert(0, 'after a late Redis');
    await waitFor(() => cy.provider.pending === 0);
  });
});
