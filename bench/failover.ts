/**
 * A node killed under live rooms (SIGKILL, no shutdown) and started again in
 * its place, as an orchestrator would: how long until its clients are back
 * and synced, how long until every room has converged once typing stops,
 * what the restarted node's event loop went through while all its rooms
 * loaded cold at once, and that nothing acknowledged was lost: the typists
 * of the dead node are held offline until their rooms' logs are read, which
 * must hold every edit they had acknowledged (a typist sending it again
 * would otherwise hide a loss); then they come back, and every client's text
 * and every stored document must end equal to the typist's. Last, every
 * connection the dead node took with it must be logged as left by a live
 * node (the nodes run with NODE_DEAD_AFTER_SECONDS = `--dead-after`), and no
 * live one.
 *
 *   npx tsx bench/failover.ts [--rooms 100] [--tail 250] [--rounds 3]
 *     [--move | --lost-host] [--dead-after 10] [--duet-root DIR[,DIR...]] [--name NAME]
 *
 * `--move`: the node is not started again; each client reaches its node
 * through a front (a TCP forwarder standing for a load balancer) that sends
 * it to the other node once its own refuses, so the dead node's clients move
 * to the surviving one, whose rooms are already open.
 *
 * `--lost-host`: as `--move`, but the node is frozen (SIGSTOP) instead of
 * killed, as when its host is lost: its connections stay open and nothing
 * answers on them, so its clients notice only when the node's pings stop
 * (Engine.IO's pingInterval + pingTimeout). The front stops sending new
 * connections to it at once (a load balancer whose health check has
 * already failed), so the time measured is the clients' own noticing.
 * The frozen node is killed at the end of the round.
 *
 * Each room: 4 clients, two on each node, one typist (on the node that dies
 * in half the rooms). First each typist types `--tail` edits at 25 a second,
 * so each room's log has that many updates past its last snapshot, as a room
 * mid-interview does (up to SNAPSHOT_EVERY, 500); then 5 a second, through
 * the kill, until every client of the dead node is back (the held typists
 * typing on offline), and 2 s more.
 * With several roots (before/after), rounds alternate between them.
 * Results: bench/results/NAME.json and NAME.md.
 */
import { writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { io } from 'socket.io-client';
import * as Y from 'yjs';
import { DuetProvider, RECONNECTION_DELAYS, type DuetClientSocket } from '../shared/provider.js';
import { FILE } from './clients.js';
import { machine, versions } from './machine.js';
import { createRng } from './prng.js';
import { PROJECT_ROOT, probe, startCluster, type Cluster } from './systems/cluster.js';
import { signToken } from './tokens.js';
import { applyEdit, syntheticSource, type EditSource } from './typing.js';

const { values: a } = parseArgs({
  options: {
    rooms: { type: 'string', default: '100' },
    tail: { type: 'string', default: '250' },
    rounds: { type: 'string', default: '3' },
    move: { type: 'boolean', default: false },
    'lost-host': { type: 'boolean', default: false },
    'duet-root': { type: 'string' },
    name: { type: 'string', default: 'failover' },
    'dead-after': { type: 'string', default: '10' },
  },
});
const ROOMS = Number(a.rooms);
const TAIL = Number(a.tail);
const ROUNDS = Number(a.rounds);
const ROOTS = a['duet-root'] ? a['duet-root'].split(',') : [PROJECT_ROOT];
const DEAD = 0;
const LOST_HOST = a['lost-host']!;
const MOVE = a.move! || LOST_HOST;
/** The nodes' NODE_DEAD_AFTER_SECONDS: how long before a live node logs the dead one's connections as left. */
const DEAD_AFTER_S = Number(a['dead-after']);

interface Front {
  url: string;
  /** New connections pass over this port from now on (a failed health check); open ones stay. */
  down(port: number): void;
  close(): Promise<void>;
}

/**
 * A TCP forwarder to the first of `ports` that accepts the connection: a
 * load balancer passing over a node whose process is gone (its port refuses
 * at once) or that its health check has taken out (`down`: a lost host,
 * whose connects would hang; how long a real check takes is not modelled).
 */
async function front(ports: number[]): Promise<Front> {
  const sockets = new Set<Socket>();
  const downPorts = new Set<number>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const server: Server = createServer((client) => {
    track(client);
    client.pause();
    let up: Socket | undefined;
    client.on('error', () => up?.destroy());
    client.on('close', () => up?.destroy());
    const attempt = (i: number) => {
      if (i >= ports.length || client.destroyed) return client.destroy();
      if (downPorts.has(ports[i]!)) return attempt(i + 1);
      const next = connect(ports[i]!, '127.0.0.1');
      const refused = () => attempt(i + 1);
      next.once('error', refused);
      next.once('connect', () => {
        next.off('error', refused);
        if (client.destroyed) return next.destroy();
        up = next;
        track(next);
        next.on('error', () => client.destroy());
        next.on('close', () => client.destroy());
        client.pipe(next).pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    down: (p) => downPorts.add(p),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

interface Client {
  provider: DuetProvider;
  socket: DuetClientSocket;
  node: number;
}

interface Room {
  id: string;
  clients: Client[];
  typist: Client;
  source: EditSource;
  /** The typist's text after each of its edits, and the newest one acknowledged (the provider had nothing pending). */
  texts: string[];
  acked: number;
}

interface RoundResult {
  root: string;
  commit: string;
  /** The dead node's clients moved to the other node (`--move`) rather than waiting for it to start again. */
  moved: boolean;
  /** Frozen (SIGSTOP) rather than killed: a lost host. */
  lostHost: boolean;
  rooms: number;
  tail: number;
  /** Kill to the new process answering /readyz (0 with --move). */
  restartMs: number;
  /** Kill to the last of the dead node's clients (the held typists aside) synced again after it noticed the loss; the first, and the median. */
  backMs: number;
  backFirstMs: number;
  backMedianMs: number;
  /** The median client's handshake done (Socket.IO `connect`) and `session` received, from the kill. */
  connectedMedianMs: number;
  sessionMedianMs: number;
  /** This process's event loop (all the clients') from the kill until they were back, ms. */
  clientLoopP99: number;
  clientLoopMax: number;
  /** Socket.IO reconnection attempts of the dead node's clients, and why attempts failed. */
  attemptsMax: number;
  attemptsMean: number;
  connectErrors: Record<string, number>;
  /** Typing stopped to every room converged with nothing unacknowledged (NaN when some did not within 30 s). */
  settleMs: number;
  /** The event loop of the node serving the dead node's clients (restarted, or the other with --move), from the kill or its being ready to the end of the round (ms). */
  loopP99: number;
  loopMax: number;
  /** Rooms whose clients still disagreed once typing had stopped and 30 s had passed. */
  diverged: number;
  /**
   * Of the rooms whose typist was on the dead node (held offline until
   * checked), those whose log lacked an edit the typist had had acknowledged.
   */
  lostAcked: number;
  heldTypists: number;
  /** Rooms whose stored document, at the end, was not the typist's text. */
  notStored: number;
  /** Kill to the last of the dead node's connections logged as left, by the leaves' own times (NaN if some were not within DEAD_AFTER_S + 20 s of the end); rooms still with one; live connections logged as lost. */
  lostLoggedMs: number;
  staleRooms: number;
  liveLeft: number;
  clientsBack: number;
}

const textOf = (c: Client) => c.provider.doc('main').getMap<Y.Text>('files').get(FILE)?.toString();
const isBack = (c: Client) => c.provider.status === 'connected' && c.provider.docs.get('main')!.synced;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const start = performance.now();
  while (!cond()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
  return performance.now() - start;
}

async function commitOf(root: string): Promise<string> {
  return (await versions(root)).duet ?? '?';
}

/** Opens the rooms into `rooms` (so a failure part-way still leaves them to close). */
async function openRooms(cluster: Cluster, urls: string[], rooms: Room[]): Promise<void> {
  const admin = await signToken(cluster.secret, { role: 'admin', name: 'bench' });
  for (let i = 0; i < ROOMS; i++) {
    const res = await fetch(`${cluster.httpUrls[i % 2]}/api/interviews`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: `failover ${i}`, language: 'typescript' }),
    });
    if (res.status !== 201) throw new Error(`create interview: ${res.status} ${await res.text()}`);
    const { id } = (await res.json()) as { id: string };
    const typistNode = i % 2;
    const clients = await Promise.all(
      [0, 1, 2, 3].map(async (c): Promise<Client> => {
        const node = (typistNode + c) % 2;
        const role = c === 0 ? 'candidate' : 'interviewer';
        const token = await signToken(cluster.secret, { role, name: `${role} ${c}`, iid: id });
        const socket: DuetClientSocket = io(urls[node]!, {
          auth: { token },
          transports: ['websocket'],
          forceNew: true,
          // As the browser client reconnects.
          ...RECONNECTION_DELAYS,
        });
        const provider = new DuetProvider(socket, ['main']);
        await provider.whenSynced('main');
        return { provider, socket, node };
      }),
    );
    const room: Room = { id, clients, typist: clients[0]!, source: syntheticSource(createRng(1000 + i)), texts: [], acked: -1 };
    room.typist.provider.on('pending', (count) => {
      if (count === 0) room.acked = room.texts.length - 1;
    });
    rooms.push(room);
  }
  await until(() => rooms.every((r) => r.clients.every((c) => textOf(c) !== undefined)), 30_000, 'every room to have its file');
}

function type(room: Room): void {
  const text = room.typist.provider.doc('main').getMap<Y.Text>('files').get(FILE)!;
  room.typist.provider.doc('main').transact(() => applyEdit(text, room.source.next(text.length)));
  room.texts.push(text.toString());
}

/** Every room types at `perSecond` until stopped, spread over the second. */
function keepTyping(rooms: Room[], perSecond: number): () => void {
  const timers = rooms.map((room, i) =>
    setTimeout(() => {
      type(room);
      timers[i] = setInterval(() => type(room), 1000 / perSecond);
    }, (1000 / perSecond) * (i / rooms.length)),
  );
  return () => timers.forEach((t) => clearInterval(t));
}

const converged = (rooms: Room[]) =>
  rooms.every((r) => r.typist.provider.pending === 0 && r.clients.every((c) => isBack(c) && textOf(c) === textOf(r.typist)));

async function round(root: string): Promise<RoundResult> {
  const cluster = await startCluster({
    system: 'duet',
    nodes: 2,
    store: 'postgres',
    adapter: 'sharded',
    hpPersist: 'none',
    duetRoot: root,
    env: { NODE_DEAD_AFTER_SECONDS: String(DEAD_AFTER_S) },
  });
  const rooms: Room[] = [];
  const ports = cluster.httpUrls.map((u) => Number(new URL(u).port));
  const fronts: Front[] = [];
  let stop = () => {};
  try {
    if (MOVE) fronts.push(await front(ports), await front([...ports].reverse()));
    await openRooms(cluster, MOVE ? fronts.map((f) => f.url) : cluster.httpUrls, rooms);
    // The tail past the last snapshot that a room mid-interview has.
    stop = keepTyping(rooms, 25);
    await sleep((TAIL / 25) * 1000);
    stop();
    await until(() => converged(rooms), 60_000, 'the tail to be acknowledged everywhere');
    stop = keepTyping(rooms, 5);
    await sleep(3000);
    // The dead node's typists stay away until the log has been read: what they
    // would send again must not stand in for an acknowledged edit the node lost.
    const held = rooms.filter((r) => r.typist.node === DEAD);
    for (const r of held) r.typist.socket.io.reconnection(false);
    // When each of the dead node's other clients is back: connected and synced again after it noticed the loss.
    const ofDead = rooms.flatMap((r) => r.clients.filter((c) => c.node === DEAD && c !== r.typist));
    let killedAt = NaN;
    let killedWallAt = NaN;
    const backAt = new Map<Client, number>();
    const attempts = new Map<Client, number>();
    const connectedAt = new Map<Client, number>();
    const sessionAt = new Map<Client, number>();
    const errors = new Map<string, number>();
    for (const c of ofDead) {
      c.socket.io.on('reconnect_attempt', (n) => attempts.set(c, n));
      c.socket.on('connect', () => {
        if (!connectedAt.has(c)) connectedAt.set(c, performance.now() - killedAt);
      });
      c.provider.on('session', () => {
        if (!sessionAt.has(c) && connectedAt.has(c)) sessionAt.set(c, performance.now() - killedAt);
      });
      c.socket.on('connect_error', (err) => {
        const code = (err as { data?: { code?: string } }).data?.code ?? err.message;
        errors.set(code, (errors.get(code) ?? 0) + 1);
      });
      let dropped = false;
      const check = () => {
        if (c.provider.status !== 'connected') dropped = true;
        else if (dropped && isBack(c) && !backAt.has(c)) backAt.set(c, performance.now() - killedAt);
      };
      c.provider.on('status', check);
      c.provider.on('synced', check);
    }
    // The clients all live in this process: its own loop delay says how much of their timing is its wait.
    const clientLoop = monitorEventLoopDelay({ resolution: 10 });
    // The node that serves the dead node's clients from here: the same one started again, or the other.
    const serving = MOVE ? 1 - DEAD : DEAD;
    if (MOVE) await probe(cluster.nodes[serving]!, { reset: true });
    const ackedAtKill = new Map(held.map((r) => [r, r.acked]));
    clientLoop.enable();
    killedAt = performance.now();
    killedWallAt = Date.now();
    if (LOST_HOST) {
      for (const f of fronts) f.down(ports[DEAD]!);
      process.kill(cluster.nodes[DEAD]!.pid, 'SIGSTOP');
    } else if (MOVE) {
      await cluster.nodes[DEAD]!.kill();
    } else {
      await cluster.restart(DEAD, 'kill');
      // From here the restarted node's loop measures the rooms' cold loads, not its own start.
      await probe(cluster.nodes[DEAD]!, { reset: true });
    }
    const restartMs = MOVE ? 0 : performance.now() - killedAt;
    await until(() => backAt.size === ofDead.length, 60_000, "the dead node's clients to be back");
    clientLoop.disable();
    const backs = [...backAt.values()].sort((x, y) => x - y);
    const median = (m: Map<Client, number>) => [...m.values()].sort((x, y) => x - y)[Math.floor(m.size / 2)] ?? NaN;
    // Acknowledged means in the log: before the held typists send anything
    // again, each of their rooms' stored documents (read from the log) must be
    // their text as of their last acknowledged edit or later.
    const admin = await signToken(cluster.secret, { role: 'admin', name: 'bench' });
    const storedText = async (r: Room) => {
      const res = await fetch(`${cluster.httpUrls[1 - DEAD]}/api/interviews/${r.id}/document`, { headers: { authorization: `Bearer ${admin}` } });
      if (!res.ok) throw new Error(`GET /document: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { files?: Record<string, string> }).files?.[FILE];
    };
    let lostAcked = 0;
    for (const r of held) {
      const stored = await storedText(r);
      const since = Math.max(0, ackedAtKill.get(r)!);
      if (stored === undefined || !r.texts.slice(since).includes(stored)) lostAcked++;
    }
    for (const r of held) {
      r.typist.socket.io.reconnection(true);
      r.typist.socket.connect();
    }
    await sleep(2000);
    stop();
    let settleMs = NaN;
    try {
      settleMs = await until(() => converged(rooms), 30_000, 'every room to converge');
    } catch {
      // Counted below as diverged.
    }
    const loop = await probe(cluster.nodes[serving]!);
    // In the end, what the database holds is what every typist typed.
    let notStored = 0;
    for (const r of rooms) if ((await storedText(r)) !== textOf(r.typist)) notStored++;
    // Presence: every connection the dead node took with it is logged as left
    // by a live node once the dead one has been silent DEAD_AFTER_S, none of the live ones.
    const liveNow = () => new Set(rooms.flatMap((r) => r.clients.flatMap((c) => (c.socket.connected && c.socket.id ? [c.socket.id] : []))));
    // Each room's log read on from where the last look ended, page by page:
    // its open connections, and the latest time a lost leave was logged.
    const logs = new Map<Room, { after: number; open: Set<string> }>(rooms.map((r) => [r, { after: 0, open: new Set<string>() }]));
    const lostConns = new Set<string>();
    let lastLostAt = -Infinity;
    const openConns = async (r: Room) => {
      const log = logs.get(r)!;
      for (;;) {
        const res = await fetch(`${cluster.httpUrls[1 - DEAD]}/api/interviews/${r.id}/events?after=${log.after}&limit=1000`, { headers: { authorization: `Bearer ${admin}` } });
        if (!res.ok) throw new Error(`GET /events: ${res.status} ${await res.text()}`);
        const { events, next } = (await res.json()) as {
          events: Array<{ seq: number; at: string; type: string; data: { conn?: string; lost?: boolean } }>;
          next: number | null;
        };
        for (const e of events) {
          if (e.type === 'join' && e.data.conn) log.open.add(e.data.conn);
          if (e.type === 'leave' && e.data.conn) log.open.delete(e.data.conn);
          if (e.type === 'leave' && e.data.lost === true && e.data.conn) {
            lostConns.add(e.data.conn);
            lastLostAt = Math.max(lastLostAt, Date.parse(e.at));
          }
          log.after = e.seq;
        }
        if (next === null) return [...log.open];
      }
    };
    // Until every room's log has no open connection but live ones, then one
    // threshold more: a live connection wrongly logged as lost would show then.
    const lookFrom = performance.now();
    let staleRooms = rooms.length;
    let settledAt: number | undefined;
    while (performance.now() - lookFrom < 2 * DEAD_AFTER_S * 1000 + 20_000) {
      const opens = await Promise.all(rooms.map(openConns));
      const live = liveNow();
      staleRooms = opens.filter((o) => o.some((c) => !live.has(c))).length;
      if (staleRooms === 0) settledAt ??= performance.now();
      if (settledAt !== undefined && performance.now() - settledAt > DEAD_AFTER_S * 1000) break;
      await sleep(500);
    }
    const live = liveNow();
    const liveLeft = [...lostConns].filter((c) => live.has(c)).length;
    // When the last lost leave was logged (its own time), from the kill.
    const lostLoggedMs = staleRooms === 0 && lostConns.size > 0 ? lastLostAt - killedWallAt : NaN;
    return {
      lostLoggedMs,
      staleRooms,
      liveLeft,
      root,
      commit: await commitOf(root),
      moved: MOVE,
      lostHost: LOST_HOST,
      rooms: ROOMS,
      tail: TAIL,
      restartMs,
      backMs: backs.at(-1)!,
      clientLoopP99: clientLoop.percentile(99) / 1e6,
      clientLoopMax: clientLoop.max / 1e6,
      attemptsMax: Math.max(...attempts.values()),
      attemptsMean: [...attempts.values()].reduce((x, y) => x + y, 0) / Math.max(1, attempts.size),
      connectErrors: Object.fromEntries(errors),
      connectedMedianMs: median(connectedAt),
      sessionMedianMs: median(sessionAt),
      backFirstMs: backs[0]!,
      backMedianMs: backs[Math.floor(backs.length / 2)]!,
      settleMs,
      loopP99: loop.eld.p99,
      loopMax: loop.eld.max,
      diverged: rooms.filter((r) => r.clients.some((c) => textOf(c) !== textOf(r.typist))).length,
      lostAcked,
      heldTypists: held.length,
      notStored,
      clientsBack: ofDead.filter(isBack).length,
    };
  } finally {
    stop();
    for (const r of rooms) for (const c of r.clients) {
      c.provider.destroy();
      c.socket.close();
    }
    for (const f of fronts) await f.close();
    // A frozen process takes no SIGTERM until it runs again.
    if (LOST_HOST) await cluster.nodes[DEAD]!.kill();
    await cluster.stop();
  }
}

const results: RoundResult[] = [];
for (let i = 0; i < ROUNDS; i++) {
  for (const root of i % 2 === 0 ? ROOTS : [...ROOTS].reverse()) {
    const r = await round(root);
    results.push(r);
    console.log(
      `[failover] ${r.commit} round ${i + 1}: ${r.lostHost ? 'host lost, moved to the other node' : r.moved ? 'moved to the other node' : `restart ${r.restartMs.toFixed(0)} ms`}, clients back ${r.backFirstMs.toFixed(0)} / ${r.backMedianMs.toFixed(0)} / ${r.backMs.toFixed(0)} ms (first / median / last, ${r.clientsBack}; median connected ${r.connectedMedianMs.toFixed(0)}, session ${r.sessionMedianMs.toFixed(0)}; attempts mean ${r.attemptsMean.toFixed(1)} max ${r.attemptsMax}, failed ${JSON.stringify(r.connectErrors)}; clients' loop p99 ${r.clientLoopP99.toFixed(0)} max ${r.clientLoopMax.toFixed(0)} ms), ` +
        `settled ${r.settleMs.toFixed(0)} ms after typing stopped, serving node's loop p99 ${r.loopP99.toFixed(1)} max ${r.loopMax.toFixed(1)} ms, ` +
        `diverged ${r.diverged}, acknowledged edits lost ${r.lostAcked} of ${r.heldTypists} held typists' rooms, not stored at the end ${r.notStored}; ` +
        `dead connections logged as left ${r.lostLoggedMs.toFixed(0)} ms after the kill (rooms still with one ${r.staleRooms}, live connections left ${r.liveLeft})`,
    );
  }
}

const out = join(PROJECT_ROOT, 'bench', 'results', a.name!);
const rows = results.map(
  (r) =>
    `| ${r.commit} | ${r.rooms} | ${r.tail} | ${r.moved ? 'moved' : r.restartMs.toFixed(0)} | ${r.backFirstMs.toFixed(0)} / ${r.backMedianMs.toFixed(0)} / ${r.backMs.toFixed(0)} | ${r.settleMs.toFixed(0)} | ${r.loopP99.toFixed(1)} / ${r.loopMax.toFixed(1)} | ${r.lostAcked} of ${r.heldTypists} | ${r.diverged} / ${r.notStored} | ${r.lostLoggedMs.toFixed(0)} (${r.staleRooms}) / ${r.liveLeft} |`,
);
writeFileSync(`${out}.json`, JSON.stringify({ machine: machine(), date: new Date().toISOString(), results }, null, 2));
writeFileSync(
  `${out}.md`,
  [
    `# Failover: a node killed under ${ROOMS} live rooms (${a.name})`,
    '',
    `Machine: ${JSON.stringify(machine())}. The nodes take a node silent for ${DEAD_AFTER_S} s for dead (NODE_DEAD_AFTER_SECONDS). Each room: 4 clients, two on each node; one typist, on the killed node in half the rooms (held offline after the kill until its room's log is checked for every edit it had acknowledged); ${TAIL} updates past the last snapshot, then 5 a second through the kill. Times are from the kill; "back" leaves out the held typists. ${LOST_HOST ? 'The node is frozen (SIGSTOP), as when its host is lost: its connections stay open and silent, so its clients notice when its pings stop; they move to the other node through a front standing for a load balancer that has already taken the node out' : MOVE ? 'The killed node stays down; its clients move to the other node through a front standing for a load balancer' : 'The killed node is started again on its port; its clients reconnect to it'}. \`npm run bench:failover${LOST_HOST ? ' -- --lost-host' : MOVE ? ' -- --move' : ''}\`.`,
    '',
    '| Duet | rooms | tail | kill → node ready ms | kill → its clients back ms, first / median / last | settled after typing stopped ms | serving node loop p99 / max ms | rooms missing an acknowledged edit | diverged / not stored at the end | kill → its connections logged as left ms (rooms with one not) / live ones logged as left |',
    '|---|---:|---:|---:|---:|---:|---:|---|---|---|',
    ...rows,
    '',
  ].join('\n'),
);
console.log(`wrote ${out}.json and .md`);
process.exit(0);
