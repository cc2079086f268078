/**
 * A node that dies logs no `leave` for its connections. Its heartbeat in the
 * database stops, and a live node logs them (`data.lost`) once the node has
 * been silent for NODE_DEAD_AFTER_SECONDS; never a live node's. A node that
 * was taken for dead while alive closes its connections, which rejoin. Where
 * the death is known (a worker's exit in cluster mode, a process on the same
 * machine seen to have ended), they are logged about a second later instead.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { beatEveryMs } from '../server/realtime/dead-nodes.js';
import { thisNodeProcess } from '../server/realtime/node-process.js';
import type { StoredEvent } from '../server/store/store.js';
import { api, connectClient, createInterview, loseNextStoreAnswer, slowStoreCalls, startNode, tempDir, waitFor } from './helpers.js';
import { spawnNode, testTokens, type NodeProcess } from './fixtures/processes.js';
import { PG_URL, REDIS_URL, tcpProxy, uniquePrefix, uniqueSchema } from './fixtures/services.js';
import { startCluster } from './fixtures/multi-node.js';

/** Past the smallest allowed (3 s): a loaded CI machine's event-loop lag must not pass for a stalled node. */
const DEAD_AFTER_S = 5;

/** Rewrites a node's record as a node on another machine has it: its process cannot be looked up from here. */
async function elsewhere(schema: string, nodeId: string) {
  const db = new pg.Client({ connectionString: PG_URL });
  await db.connect();
  try {
    const moved = await db.query(`UPDATE ${schema}.nodes SET pid_space = 'another machine' WHERE id = $1`, [nodeId]);
    expect(moved.rowCount).toBe(1);
  } finally {
    await db.end();
  }
}

/** The interview's joins and leaves, as [name, conn, lost] rows. */
function presence(events: StoredEvent[]) {
  return events.map((e) => [e.type, e.actor.name, e.data.conn, e.data.lost ?? false]);
}

/**
 * Two nodes, Ada on one and Cy on the other, both joined and logged, and
 * both nodes beating for longer than the threshold: each judges the other.
 */
async function twoJudgingNodes(overrides: Parameters<typeof startCluster>[1] = {}) {
  const { nodes } = await startCluster(2, { nodeDeadAfterMs: DEAD_AFTER_S * 1000, ...overrides });
  const [n0, n1] = [nodes[0]!, nodes[1]!];
  const iv = await createInterview(n0);
  const id = iv.interview.id;
  const clients = [
    await connectClient(n0.url, await iv.invite('interviewer', 'Ada')),
    await connectClient(n1.url, await iv.invite('candidate', 'Cy')),
  ];
  const store = n0.server.ctx.store;
  await waitFor(async () => (await store.readEvents(id, { type: 'join' })).length === 2, 5000);
  await new Promise((r) => setTimeout(r, (DEAD_AFTER_S + 0.5) * 1000));
  return { id, clients, conns: clients.map((c) => c.socket.id), store, n1 };
}

describe('connections a dead node took with it', () => {
  it('are logged as left by a live node once the dead one has been silent long enough; a live node\'s are not', async () => {
    const schema = uniqueSchema();
    const env = {
      REDIS_URL,
      REDIS_KEY_PREFIX: uniquePrefix(),
      DATABASE_URL: PG_URL,
      DATABASE_SCHEMA: schema,
      NODE_DEAD_AFTER_SECONDS: String(DEAD_AFTER_S),
    };
    const victim = await spawnNode(env);
    const survivor = await startNode(
      { redisUrl: env.REDIS_URL, redisKeyPrefix: env.REDIS_KEY_PREFIX, databaseUrl: PG_URL, databaseSchema: schema, nodeDeadAfterMs: DEAD_AFTER_S * 1000 },
    );
    const tokens = await testTokens();
    const iv = await tokens.interview(survivor.url);
    const cy = await connectClient(victim.url, await tokens.invite(survivor.url, iv, 'candidate', 'Cy'));
    const ada = await connectClient(survivor.url, await tokens.invite(survivor.url, iv, 'interviewer', 'Ada'));
    const cyConn = cy.socket.id;
    const store = survivor.server.ctx.store;
    const events = () => store.readEvents(iv.id, {}).then((all) => all.filter((e) => e.type === 'join' || e.type === 'leave'));
    await waitFor(async () => (await events()).length === 2, 5000);
    // The victim's record as a node on another machine writes it: there its process cannot be seen
    // ending (on this machine the survivor would see it, and log the leave a quarter of the threshold sooner).
    await elsewhere(schema, String((await events()).find((e) => e.actor.name === 'Cy')!.data.node));
    // Both nodes live and beating for longer than the threshold: nobody is taken for dead.
    await new Promise((r) => setTimeout(r, (DEAD_AFTER_S + 1) * 1000));
    expect(presence(await events())).toEqual([
      ['join', 'Cy', cyConn, false],
      ['join', 'Ada', ada.socket.id, false],
    ]);

    cy.provider.destroy();
    const killing = Date.now();
    process.kill(victim.child.pid!, 'SIGKILL');
    await victim.exited;
    const killedAt = Date.now();
    await waitFor(async () => (await events()).length === 3, (DEAD_AFTER_S + 5) * 1000, 100);
    const tookMs = Date.now() - killedAt;
    expect(presence(await events())).toEqual([
      ['join', 'Cy', cyConn, false],
      ['join', 'Ada', ada.socket.id, false],
      ['leave', 'Cy', cyConn, true],
    ]);
    // Not before the dead node had been silent for the threshold.
    expect(tookMs).toBeGreaterThan((DEAD_AFTER_S - 1) * 1000);
    // The leave names the dead node's last heartbeat: shortly before the kill (it beats every sixth of
    // the threshold; margins for a busy machine, where a beat sent just before the kill may run after
    // it), and the threshold before the leave was logged.
    const leave = (await events())[2]!;
    const lastSeen = Date.parse(String(leave.data.lastSeen));
    expect(lastSeen).toBeLessThanOrEqual(killedAt + 1000);
    expect(lastSeen).toBeGreaterThan(killing - beatEveryMs(DEAD_AFTER_S * 1000) - 2000);
    expect(Date.parse(leave.at) - lastSeen).toBeGreaterThanOrEqual(DEAD_AFTER_S * 1000);
    // Its record goes once its leaves are logged (just after), and nothing more is logged at the next beats.
    const db = new pg.Client({ connectionString: PG_URL });
    await db.connect();
    onTestFinished(() => db.end());
    const nodes = async () => (await db.query(`SELECT count(*)::int AS n FROM ${schema}.nodes`)).rows[0].n as number;
    await waitFor(async () => (await nodes()) === 1, 5000, 50);
    expect(await nodes()).toBe(1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await events()).toHaveLength(3);
    expect(ada.socket.connected).toBe(true);
  }, 60_000);

  it('a node known to have exited (cluster mode) has its connections logged as left at once, and a join it committed late at the threshold', async () => {
    const schema = uniqueSchema();
    const env = { REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix(), DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema, NODE_DEAD_AFTER_SECONDS: String(DEAD_AFTER_S) };
    const victim = await spawnNode(env);
    const survivor = await startNode({
      redisUrl: env.REDIS_URL,
      redisKeyPrefix: env.REDIS_KEY_PREFIX,
      databaseUrl: PG_URL,
      databaseSchema: schema,
      nodeDeadAfterMs: DEAD_AFTER_S * 1000,
    });
    const tokens = await testTokens();
    const iv = await tokens.interview(survivor.url);
    const cy = await connectClient(victim.url, await tokens.invite(survivor.url, iv, 'candidate', 'Cy'));
    const cyConn = cy.socket.id;
    const store = survivor.server.ctx.store;
    const events = () => store.readEvents(iv.id, {}).then((all) => all.filter((e) => e.type === 'join' || e.type === 'leave'));
    await waitFor(async () => (await events()).length === 1, 5000);
    const [join] = await events();
    const victimId = String(join!.data.node);
    // Recorded as on another machine, so only the word that it exited can hurry its sweep: on this
    // machine the survivor would find its process gone as well.
    await elsewhere(schema, victimId);
    cy.provider.destroy();
    process.kill(victim.child.pid!, 'SIGKILL');
    await victim.exited;
    // What a cluster's primary tells a live worker when it sees a worker's process end.
    const toldAt = Date.now();
    survivor.server.nodesExited([victimId]);
    await waitFor(async () => (await events()).length === 2, DEAD_AFTER_S * 1000, 50);
    expect(Date.now() - toldAt).toBeLessThan(DEAD_AFTER_S * 1000 - 1000); // well before the threshold
    expect(presence(await events())).toEqual([
      ['join', 'Cy', cyConn, false],
      ['leave', 'Cy', cyConn, true],
    ]);
    // A join the dead node had sent before it died, committed only now (it had waited on a lock):
    // the record was kept, so the heartbeat's sweep logs its leave once the threshold has passed.
    await survivor.server.ctx.writer.append(iv.id, { type: 'join', at: new Date().toISOString(), actor: join!.actor, data: { conn: 'late', node: victimId } });
    await waitFor(async () => (await events()).length === 4, (DEAD_AFTER_S + 5) * 1000, 100);
    expect(presence(await events()).slice(2)).toEqual([
      ['join', 'Cy', 'late', false],
      ['leave', 'Cy', 'late', true],
    ]);
  }, 60_000);

  /** Laptop style: one SQLite file, nodes started by hand (or a supervisor restarting a crashed one). */
  async function nodesOnOneMachine(deadAfterS: number) {
    const env = { DATA_DIR: tempDir('duet-proc-'), NODE_DEAD_AFTER_SECONDS: String(deadAfterS) };
    const tokens = await testTokens();
    let iv: Awaited<ReturnType<typeof tokens.interview>> | undefined;
    const start = async () => {
      const node = await spawnNode(env);
      iv ??= await tokens.interview(node.url);
      return node;
    };
    type Logged = { type: string; actor: { name: string }; data: { lost?: boolean } };
    const logged = async (via: NodeProcess, type: string) =>
      (await api<{ events: Logged[] }>(via.url, `/api/interviews/${iv!.id}/events`, { token: iv!.token })).body.events.filter((e) => e.type === type);
    const leaves = (via: NodeProcess) => logged(via, 'leave');
    const join = async (node: NodeProcess, name: string) => {
      const client = await connectClient(node.url, await tokens.invite(node.url, iv!, 'candidate', name));
      await client.provider.whenSynced('main');
      // The sync is answered before the join is logged: a crash in between would leave nothing to sweep.
      await waitFor(async () => (await logged(node, 'join')).some((e) => e.actor.name === name), 10_000, 50);
      return client;
    };
    const crash = async (node: NodeProcess) => {
      process.kill(node.child.pid!, 'SIGKILL');
      await node.exited;
    };
    /** `name`'s connection, and no other, is logged as left by `via`, less than `withinMs` after `since`. */
    const loggedAsLeftBy = async (via: NodeProcess, name: string, since: number, withinMs: number) => {
      await waitFor(async () => (await leaves(via)).length > 0, 40_000, 100);
      expect(Date.now() - since).toBeLessThan(withinMs);
      await new Promise((r) => setTimeout(r, 2000));
      expect(await leaves(via)).toEqual([expect.objectContaining({ actor: expect.objectContaining({ name }), data: expect.objectContaining({ lost: true }) })]);
      expect(via.output()).toContain("a dead node's connections were logged as left");
    };
    return { start, join, crash, loggedAsLeftBy };
  }

  it("a node restarted after a crash logs its predecessor's connections as left well before the threshold (it sees the process ended), not its own", async () => {
    const { start, join, crash, loggedAsLeftBy } = await nodesOnOneMachine(20);
    const crashed = await start();
    await join(crashed, 'Cy');
    await crash(crashed);
    // The only node of the machine: the leave can come from no other.
    const restarted = await start();
    const started = Date.now();
    await join(restarted, 'Fay');
    // Its first heartbeat finds the crashed node's process gone, its next one confirms the record has
    // not been seen since: the leave comes once that record has also been silent for a quarter of the
    // threshold and a second (6 s), where the threshold's own sweep needs the restarted node to have
    // beaten for 20 s first.
    await loggedAsLeftBy(restarted, 'Cy', started, 15_000);
  }, 90_000);

  it("a node running beside one that crashes logs the crashed one's connections as left well before the threshold, not its own", async () => {
    const { start, join, crash, loggedAsLeftBy } = await nodesOnOneMachine(20);
    const [crashed, live] = [await start(), await start()];
    await join(crashed, 'Cy');
    await join(live, 'Fay');
    await crash(crashed);
    const crashedAt = Date.now();
    // The live node looks for ended processes at every beat (a sixth of the threshold), not only as
    // it starts: the leave comes once a second look has confirmed it and the record has been silent
    // for a quarter of the threshold and a second (6 s), where the threshold's own sweep could come
    // no sooner than 20 s.
    await loggedAsLeftBy(live, 'Cy', crashedAt, 15_000);
  }, 90_000);

  it('a record on this machine read as ended that beats again (a live node on a machine cloned from this one) waits for the threshold', async () => {
    const node = await startNode({ nodeDeadAfterMs: DEAD_AFTER_S * 1000 });
    const { store, writer } = node.server.ctx;
    const iv = await createInterview(node);
    const me = thisNodeProcess();
    expect(me).toBeDefined();
    // This process's PID with another start time reads as ended (the PID taken by another process),
    // as a live node's on a clone reads here.
    const clone = randomUUID();
    await store.registerNode(clone, DEAD_AFTER_S * 1000, { ...me!, started: me!.started + 1 });
    await writer.append(iv.interview.id, { type: 'join', at: new Date().toISOString(), actor: { sub: 'u_cy', name: 'Cy', role: 'candidate' }, data: { conn: 'on-the-clone', node: clone } });
    const leaves = async () => (await store.readEvents(iv.interview.id, { type: 'leave' })).length;
    // It beats a while, as a live node does, then falls silent (a stall, or a database outage it alone had).
    const beatUntil = Date.now() + 2.5 * beatEveryMs(DEAD_AFTER_S * 1000);
    while (Date.now() < beatUntil) {
      expect(await store.heartbeatNode(clone)).toBe(true);
      await new Promise((r) => setTimeout(r, 200));
    }
    const silentFrom = Date.now();
    // Silent for a quarter of the threshold and a second, and two of the node's beats past that:
    // were it still read as ended, its connection would be logged as left by now (and the
    // threshold's own sweep, a second later at the soonest, not yet).
    await new Promise((r) => setTimeout(r, (DEAD_AFTER_S / 4 + 1) * 1000 + 2 * beatEveryMs(DEAD_AFTER_S * 1000)));
    expect(await leaves()).toBe(0);
    // The threshold's own sweep still takes it: the leave could be seen.
    await waitFor(async () => (await leaves()) === 1, (DEAD_AFTER_S + 5) * 1000, 100);
    expect(Date.now() - silentFrom).toBeGreaterThan((DEAD_AFTER_S - 0.5) * 1000);
  }, 60_000);

  it('after a database outage longer than the threshold, live nodes do not take each other for dead', async () => {
    const db = await tcpProxy(() => [Number(new URL(PG_URL).port || 5432)]);
    const { id, clients, conns, store } = await twoJudgingNodes({ databaseUrl: db.url(PG_URL) });
    db.cut();
    // Every record is stale by the time the database is back.
    await new Promise((r) => setTimeout(r, (DEAD_AFTER_S + 1.5) * 1000));
    db.restore();
    await new Promise((r) => setTimeout(r, (DEAD_AFTER_S + 2) * 1000));
    expect(await store.readEvents(id, { type: 'leave' })).toEqual([]);
    expect(clients.map((c) => c.socket.id)).toEqual(conns);
    expect(await store.readEvents(id, { type: 'join' })).toHaveLength(2);
  }, 60_000);

  it('a node whose own beats came late (its event loop stalled past the threshold) does not judge the others at once', async () => {
    const { id, clients, conns, store, n1 } = await twoJudgingNodes();
    // Both nodes stall (they share this process, as nodes share a starved
    // machine); n1 comes back slower, its next beats 2.5 s late. n0, back
    // first, would find n1 stale past the threshold if it judged at once.
    slowStoreCalls(n1.server.ctx.store, 'heartbeatNode', 2500);
    const until = Date.now() + (DEAD_AFTER_S + 1) * 1000;
    while (Date.now() < until) {
      // Busy: no timer, no socket, no query answer runs meanwhile.
    }
    await new Promise((r) => setTimeout(r, (DEAD_AFTER_S + 2) * 1000));
    expect(await store.readEvents(id, { type: 'leave' })).toEqual([]);
    expect(clients.map((c) => c.socket.id)).toEqual(conns);
  }, 60_000);

  it('a registration whose answer was lost is not retried under the same id: others may sweep it meanwhile', async () => {
    const { nodes } = await startCluster(2, { nodeDeadAfterMs: DEAD_AFTER_S * 1000 });
    const [n0, n1] = [nodes[0]!, nodes[1]!];
    const iv = await createInterview(n0);
    const id = iv.interview.id;
    const cy = await connectClient(n1.url, await iv.invite('candidate', 'Cy'));
    const store = n0.server.ctx.store;
    const joins = () => store.readEvents(id, { type: 'join' });
    await waitFor(async () => (await joins()).length === 1, 5000);
    // n1 is taken for dead; the registration of its next id commits, but n1 never hears so.
    const { lost } = loseNextStoreAnswer(n1.server.ctx.store, 'registerNode');
    await store.forgetNode((await joins())[0]!.data.node as string);
    await lost;
    await waitFor(async () => (await joins()).length === 2 && cy.socket.connected, 10_000, 100);
    // The committed record goes stale and is swept: nothing of Cy's live connection may be logged as lost.
    await new Promise((r) => setTimeout(r, (2 * DEAD_AFTER_S + 3) * 1000));
    const leaves = await store.readEvents(id, { type: 'leave' });
    expect(leaves.filter((e) => e.data.conn === cy.socket.id)).toEqual([]);
    const open = new Set((await joins()).map((e) => e.data.conn));
    for (const e of leaves) open.delete(e.data.conn);
    expect([...open]).toEqual([cy.socket.id]);
  }, 60_000);

  it('a node taken for dead while alive closes its connections, and they rejoin under its new id', async () => {
    const { nodes } = await startCluster(2, { nodeDeadAfterMs: DEAD_AFTER_S * 1000 });
    const [n0, n1] = [nodes[0]!, nodes[1]!];
    const iv = await createInterview(n0);
    const id = iv.interview.id;
    const cy = await connectClient(n1.url, await iv.invite('candidate', 'Cy'));
    const ada = await connectClient(n0.url, await iv.invite('interviewer', 'Ada'));
    const store = n0.server.ctx.store;
    const joins = () => store.readEvents(id, { type: 'join' });
    await waitFor(async () => (await joins()).length === 2, 5000);
    const cyJoin = (await joins()).find((e) => e.actor.name === 'Cy')!;
    const adaConn = ada.socket.id;
    // As if another node had found n1 silent and logged its connections as left.
    await store.forgetNode(cyJoin.data.node as string);
    await waitFor(async () => (await joins()).length === 3, (DEAD_AFTER_S + 5) * 1000, 100);
    const rejoined = (await joins())[2]!;
    expect(rejoined.actor.name).toBe('Cy');
    expect(rejoined.data.conn).not.toBe(cyJoin.data.conn);
    expect(rejoined.data.node).not.toBe(cyJoin.data.node);
    await waitFor(() => cy.socket.connected && cy.socket.id === rejoined.data.conn, 5000);
    // The other node's connection was not touched.
    expect(ada.socket.id).toBe(adaConn);
    expect((await joins()).filter((e) => e.actor.name === 'Ada')).toHaveLength(1);
  }, 30_000);
});
