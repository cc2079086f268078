/**
 * Nodes as separate processes behind a load balancer (a TCP proxy the test
 * controls): the bundle `npm start` runs, a node killed with SIGKILL, a node
 * stopped with SIGTERM, and cluster mode with long-polling clients.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { get } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { ChatMessage } from '../shared/protocol.js';
import { connectClient, nextEvent, waitFor } from './helpers.js';
import { expectEverythingKept, keepTyping, typist, type Typist } from './fixtures/multi-node.js';
import { CLIENT_DIST, ensureClientBuilt } from '../client/scripts/ensure-built.js';
import { pollingProvider, spawnNode, startCommandHere, testTokens, type NodeProcess } from './fixtures/processes.js';
import { PG_URL, REDIS_URL, tcpProxy, uniquePrefix, uniqueSchema } from './fixtures/services.js';

/** A process's children (a cluster primary's workers), by PID. */
const childrenOf = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

/** How many sockets a process has open, by PID. */
const socketsOf = (pid: number) => readdirSync(`/proc/${pid}/fd`).filter((fd) => {
  try {
    return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
  } catch {
    return false;
  }
}).length;

/** A request written as is on a connection of its own; `closed`: the whole answer, once the connection closes. */
function rawRequest(port: number, head: string) {
  const socket = connect(port, '127.0.0.1');
  socket.write(head);
  let answer = '';
  socket.setEncoding('utf8').on('data', (d: string) => (answer += d));
  socket.on('error', () => {});
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(answer)));
  return { socket, closed, answer: () => answer };
}

/** `promise`, or a failure with `message` if it has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message())), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function startNodes(n: number) {
  const schema = uniqueSchema();
  const env = { REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix(), DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema };
  // The first migrates; the rest start together.
  const first = await spawnNode(env);
  const rest = await Promise.all(Array.from({ length: n - 1 }, () => spawnNode(env)));
  const nodes = [first, ...rest];
  const alive = new Set<NodeProcess>(nodes);
  // Round-robin over live nodes: websocket clients need no stickiness.
  const lb = await tcpProxy(() => [...alive].map((node) => node.port));
  return { schema, nodes, alive, lb };
}

describe('nodes as processes', () => {
  it('the node `npm start` runs (the bundle in dist/server) serves the built client from the project', async () => {
    await ensureClientBuilt({ quiet: true });
    const node = await spawnNode({});
    expect(startCommandHere().entry).toBe('dist/server/main.js');
    const page = await fetch(`${node.url}/room/some-id`);
    expect(page.status).toBe(200);
    expect(await page.text()).toBe(readFileSync(join(CLIENT_DIST, 'index.html'), 'utf8'));
    process.kill(node.child.pid!, 'SIGTERM');
    expect((await node.exited).code).toBe(0);
  }, 120_000);

  it('kill -9 of a node while its clients type loses no acknowledged edit', async () => {
    const { schema, nodes, alive, lb } = await startNodes(3);
    const tokens = await testTokens();
    const iv = await tokens.interview(nodes[0]!.url);
    const typists: Typist[] = [];
    // Six clients through the balancer: two on each node.
    for (let i = 0; i < 6; i++) {
      const token = await tokens.invite(nodes[0]!.url, iv, i % 2 ? 'candidate' : 'interviewer', `t${i}`);
      typists.push(typist(await connectClient(lb.url(nodes[0]!.url), token), `t${i}`));
    }
    let moved = 0;
    for (const t of typists) t.client.socket.on('disconnect', () => moved++);
    const stop = keepTyping(typists, 9);
    await new Promise((r) => setTimeout(r, 800));
    const victim = nodes[1]!;
    alive.delete(victim);
    process.kill(victim.child.pid!, 'SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');
    // Its clients reconnect through the balancer to the others and keep typing.
    await new Promise((r) => setTimeout(r, 1200));
    await stop();
    // The balancer had put two of the six on the victim.
    expect(moved).toBe(2);
    await expectEverythingKept(typists, schema, iv.id);
  }, 120_000);

  it('after kill -9 of its node, a client that reconnects through another node sees an idle cursor at once', async () => {
    const { nodes } = await startNodes(3);
    const tokens = await testTokens();
    const iv = await tokens.interview(nodes[0]!.url);
    const idle = await connectClient(nodes[0]!.url, await tokens.invite(nodes[0]!.url, iv, 'candidate', 'Cy'));
    idle.provider.awareness('main').setLocalStateField('cursor', { file: 'idle', selections: [] });
    const id = idle.provider.doc('main').clientID;
    // The watcher goes through a balancer the test steers: node 1 first, then node 2.
    let upstream = nodes[1]!.port;
    const lb = await tcpProxy(() => [upstream]);
    const watcher = await connectClient(lb.url(nodes[0]!.url), await tokens.invite(nodes[0]!.url, iv, 'interviewer', 'Ida'));
    watcher.provider.awareness('main').setLocalStateField('user', { name: 'Ida' });
    const watcherSees = () => (watcher.provider.awareness('main').getStates().get(id) as { cursor?: { file: string } } | undefined)?.cursor?.file;
    await waitFor(() => watcherSees() === 'idle');

    // Node 1 dies without a word: Cy's client still holds the watcher's state.
    upstream = nodes[2]!.port;
    process.kill(nodes[1]!.child.pid!, 'SIGKILL');
    await waitFor(() => watcherSees() === undefined, 10_000); // dropped on its disconnect
    // Node 2 never held Cy's state, and Cy sets nothing: it comes from Cy's client,
    // which sees the watcher leave and come back (its state removed, then set again).
    await waitFor(() => watcher.provider.status === 'connected', 10_000);
    await waitFor(() => watcherSees() === 'idle', 8000); // y-protocols' renewal is 15 s or more away
  }, 120_000);

  it('SIGTERM drains a node: it exits in bounded time, its clients move on, nothing is lost', async () => {
    const { schema, nodes, alive, lb } = await startNodes(2);
    const tokens = await testTokens();
    const iv = await tokens.interview(nodes[0]!.url);
    const typists: Typist[] = [];
    for (let i = 0; i < 4; i++) {
      const token = await tokens.invite(nodes[0]!.url, iv, 'candidate', `g${i}`);
      typists.push(typist(await connectClient(lb.url(nodes[0]!.url), token), `g${i}`));
    }
    let moved = 0;
    for (const t of typists) t.client.socket.on('disconnect', () => moved++);
    const stop = keepTyping(typists, 11);
    await new Promise((r) => setTimeout(r, 500));
    const leaving = nodes[0]!;
    alive.delete(leaving);
    const started = Date.now();
    process.kill(leaving.child.pid!, 'SIGTERM');
    const exit = await leaving.exited;
    expect(exit.code, leaving.output()).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    await new Promise((r) => setTimeout(r, 800));
    await stop();
    expect(moved).toBe(2);
    await expectEverythingKept(typists, schema, iv.id);
  }, 120_000);

  it('cluster mode: --workers 2 behind sticky serves long-polling clients, rooms shared across workers', async () => {
    const primary = await spawnNode({}, ['--workers', '2']);
    const tokens = await testTokens();
    const iv = await tokens.interview(primary.url);
    // Long-polling only: each request must reach the worker that holds the session.
    const a = pollingProvider(primary.url, await tokens.invite(primary.url, iv, 'interviewer', 'Ada'));
    const b = pollingProvider(primary.url, await tokens.invite(primary.url, iv, 'candidate', 'Cy'));
    await Promise.all([a.whenSynced('main'), b.whenSynced('main')]);
    const text = (p: typeof a) => p.doc('main').getMap<Y.Text>('files').get('main.ts')!;
    text(a).insert(0, 'from Ada; ');
    text(b).insert(0, 'from Cy; ');
    await waitFor(() => text(a).toString() === text(b).toString() && text(a).length === 19, 10_000);
    const got = nextEvent<ChatMessage>(b.socket, 'chat:message', 10_000);
    await a.socket.emitWithAck('chat:send', { channel: 'room', text: 'over polling' });
    expect((await got).text).toBe('over polling');
    // Least-connection spread them over both workers, so the broadcast crossed processes.
    const sessions = await Promise.all([a, b].map((p) => p.session));
    expect(sessions.every((s) => s !== undefined)).toBe(true);
    // Whichever worker takes a scrape, /metrics counts the machine's two sockets, not its own one.
    // A new connection each time: sticky hands a whole connection to one worker.
    const scrape = () =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        get(`${primary.url}/metrics`, { agent: false }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        }).on('error', reject);
      });
    for (let i = 0; i < 4; i++) {
      const { status, text } = await scrape();
      expect(status).toBe(200);
      expect(text).toMatch(/^duet_sockets 2$/m);
      expect(text.match(/^duet_process_process_cpu_user_seconds_total /gm)).toHaveLength(1);
    }

    // A worker dies and another is started in its place: while that one boots, the primary
    // sends new connections to the live one (least-connection would pick the one with no clients).
    const pid = primary.child.pid!;
    const workers = () => childrenOf(pid);
    const [victim, survivor] = workers();
    process.kill(victim!, 'SIGKILL');
    await waitFor(() => workers().length === 2 && !workers().includes(victim!), 10_000);
    const replacement = workers().find((w) => w !== survivor)!;
    // Requests for the second after the fork, each on a new connection, each answered.
    const answered: number[] = [];
    for (const started = Date.now(); Date.now() - started < 1500; ) {
      let timer: NodeJS.Timeout | undefined;
      const res = await Promise.race([scrape(), new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 4000)))]);
      clearTimeout(timer);
      answered.push(res?.status ?? 0);
    }
    expect(answered.length).toBeGreaterThan(3);
    expect(answered.every((status) => status === 200)).toBe(true);
    expect(workers()).toContain(replacement);

    // The primary saw the worker die, so its connection's leave is logged now by the live
    // worker, not after NODE_DEAD_AFTER_SECONDS (60 s) of silence.
    type Logged = { type: string; actor: { name: string }; data: { conn?: string; lost?: boolean } };
    const presence = async () => {
      const res = await fetch(`${primary.url}/api/interviews/${iv.id}/events`, { headers: { authorization: `Bearer ${iv.token}` } });
      expect(res.status).toBe(200);
      return ((await res.json()) as { events: Logged[] }).events.filter((e) => e.type === 'join' || e.type === 'leave');
    };
    await waitFor(async () => (await presence()).some((e) => e.type === 'leave'), 8000, 200);
    // The victim's client came back through the live worker: a third join, by the person whose
    // first connection, and only that one, is logged as lost.
    await waitFor(async () => (await presence()).filter((e) => e.type === 'join').length === 3, 8000, 200);
    const [first, second, back] = (await presence()).filter((e) => e.type === 'join');
    const leaves = (await presence()).filter((e) => e.type === 'leave');
    expect(leaves).toHaveLength(1);
    expect(leaves[0]!.data.lost).toBe(true);
    expect(leaves[0]!.actor.name).toBe(back!.actor.name);
    expect(leaves[0]!.data.conn).toBe([first!, second!].find((j) => j.actor.name === back!.actor.name)!.data.conn);
    process.kill(primary.child.pid!, 'SIGTERM');
    expect((await primary.exited).code).toBe(0);
  }, 120_000);

  it('cluster mode: a request the primary relays to a worker that dies is answered 503, not left waiting', async () => {
    const primary = await spawnNode({}, ['--workers', '2']);
    const { port } = new URL(primary.url);
    // Long-polling sessions, one after another so that least-connection spreads them over both workers.
    const sids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${primary.url}/socket.io/?EIO=4&transport=polling`);
      sids.push((JSON.parse((await res.text()).slice(1)) as { sid: string }).sid);
      await new Promise((r) => setTimeout(r, 200));
    }
    // A POST to each (a request with a body: the primary keeps the client's connection and
    // relays it), its body not sent yet, so each worker holds its requests unanswered.
    const held = socketsOf(primary.child.pid!);
    const posts = sids.map((sid) =>
      rawRequest(Number(port), `POST /socket.io/?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\n`),
    );
    // The primary has taken all four (and then a moment to read and relay them).
    await waitFor(() => socketsOf(primary.child.pid!) >= held + 4, 10_000, 20);
    await new Promise((r) => setTimeout(r, 500));
    const [victim] = childrenOf(primary.child.pid!);
    process.kill(victim!, 'SIGKILL');
    // The dead worker's: a 503 with the API's error body, at once. Before, no answer ever came.
    await waitFor(() => posts.some((p) => p.answer() !== ''), 5000, 20);
    await new Promise((r) => setTimeout(r, 500));
    const lost = posts.filter((p) => p.answer() !== '');
    const live = posts.filter((p) => p.answer() === '');
    expect(lost.length).toBeGreaterThan(0);
    expect(live.length).toBeGreaterThan(0);
    for (const p of lost) {
      const answer = await p.closed;
      expect(answer).toMatch(/^HTTP\/1\.1 503 /);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 'unavailable' } });
    }
    // The live worker's are untouched: their bodies arrive, and they are answered as usual.
    for (const p of live) p.socket.write('3');
    for (const p of live) expect(await p.closed).toMatch(/^HTTP\/1\.1 200 [^]*\r\n\r\nok$/);
    process.kill(primary.child.pid!, 'SIGTERM');
    expect((await primary.exited).code).toBe(0);
  }, 60_000);

  it('cluster mode: connections queued for a worker that dies are answered 503, not left waiting', async () => {
    const primary = await spawnNode({}, ['--workers', '2']);
    const { port } = new URL(primary.url);
    // Node passes a worker one connection at a time, each after the last one's acknowledgement:
    // with the workers stopped, the first is in flight and the rest wait in the primary.
    const workers = childrenOf(primary.child.pid!);
    for (const w of workers) process.kill(w, 'SIGSTOP');
    const held = socketsOf(primary.child.pid!);
    const requests = Array.from({ length: 3 }, () => rawRequest(Number(port), 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n').closed);
    await waitFor(() => socketsOf(primary.child.pid!) >= held + 3, 10_000, 20);
    await new Promise((r) => setTimeout(r, 500));
    for (const w of workers) process.kill(w, 'SIGKILL');
    // Each gets a 503, the one in flight too. Before, all three waited forever: Node closes none
    // of them while a handover is unacknowledged.
    const answers = await within(Promise.all(requests), 5000, () => 'a connection was left open');
    for (const answer of answers) expect(answer).toMatch(/^HTTP\/1\.1 503 [^]*"code":"unavailable"/);
    process.kill(primary.child.pid!, 'SIGTERM');
    expect((await primary.exited).code).toBe(0);
  }, 60_000);

  it('cluster mode: while every worker is starting again, requests are answered 503 at once, not dropped', async () => {
    const primary = await spawnNode({}, ['--workers', '2']);
    const port = Number(new URL(primary.url).port);
    for (const w of childrenOf(primary.child.pid!)) process.kill(w, 'SIGKILL');
    // Until a replacement takes them: a request handed over whole (a GET) and one the primary
    // relays (a POST with a body), again and again. Sticky hands both to a worker still
    // starting when there is no other, and before, one that had not set up its side of sticky
    // yet dropped them: their clients waited for good.
    const answers: string[] = [];
    for (let served = false; !served; ) {
      const get = rawRequest(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const post = rawRequest(port, 'POST /api/interviews HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
      const pair = await within(Promise.all([get.closed, post.closed]), 5000, () => `a request was left waiting (${answers.length} answered before)`);
      answers.push(...pair);
      served = pair[0].startsWith('HTTP/1.1 200 ');
      await new Promise((r) => setTimeout(r, 50));
    }
    // Some came while a replacement was starting (sticky's own 503, with no body, is for while there is no worker at all).
    expect(answers.filter((a) => /^HTTP\/1\.1 503 [^]*"code":"unavailable"[^]*not carried out/.test(a)).length).toBeGreaterThan(0);
    for (const a of answers) expect(a).toMatch(/^HTTP\/1\.1 (200|401|503) /);
    process.kill(primary.child.pid!, 'SIGTERM');
    expect((await primary.exited).code).toBe(0);
  }, 60_000);

  it('cluster mode: a replacement that keeps dying while it starts (the database down) is started less and less often', async () => {
    let dbUp = true;
    const pgPort = Number(new URL(PG_URL).port || 5432);
    // Connections already open stay up; new ones are refused while the database is "down".
    const db = await tcpProxy(() => (dbUp ? [pgPort] : []));
    const proxied = new URL(PG_URL);
    proxied.port = String(db.port);
    const primary = await spawnNode({ DATABASE_URL: proxied.toString(), DATABASE_SCHEMA: uniqueSchema(), LOG_LEVEL: 'info' }, ['--workers', '2']);
    const pid = primary.child.pid!;
    const workers = () => childrenOf(pid);
    const logged = (msg: string) =>
      primary
        .output()
        .split('\n')
        .filter((line) => line.includes(`"msg":"${msg}"`))
        .map((line) => JSON.parse(line) as { time: number; worker: number; restartInMs: number; ready: boolean });
    const deaths = () => logged('worker died; starting another');
    const [victim, survivor] = workers();
    dbUp = false;
    process.kill(victim!, 'SIGKILL');
    // The worker that was ready is replaced after 0.5 s; each replacement that cannot start waits twice as long.
    await waitFor(() => deaths().length >= 3, 30_000, 20);
    expect(deaths().slice(0, 3)).toEqual([
      { ...deaths()[0], ready: true, restartInMs: 500 },
      { ...deaths()[1], ready: false, restartInMs: 1000 },
      { ...deaths()[2], ready: false, restartInMs: 2000 },
    ]);
    // The third waits 2 s: nothing is forked for the next 1.5 (it was every 0.5 s).
    const quietUntil = deaths()[2]!.time + 1500;
    while (Date.now() < quietUntil) {
      expect(workers()).toEqual([survivor]);
      await new Promise((r) => setTimeout(r, 50));
    }
    // The database back: the next replacement starts, and stays.
    dbUp = true;
    await waitFor(() => logged('worker ready').length === 1, 20_000, 50);
    const settled = workers();
    const died = deaths().length;
    await new Promise((r) => setTimeout(r, 1000));
    expect(workers()).toEqual(settled);
    expect(deaths()).toHaveLength(died);
    // Once one was ready, that worker's next death is replaced after 0.5 s again.
    process.kill(logged('worker ready')[0]!.worker, 'SIGKILL');
    await waitFor(() => deaths().length === died + 1, 10_000, 20);
    expect(deaths()[died]).toMatchObject({ ready: true, restartInMs: 500 });
    process.kill(pid, 'SIGTERM');
    expect((await primary.exited).code).toBe(0);
  }, 120_000);
});
