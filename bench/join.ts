/**
 * Cold join of a long document: seed D documents with N updates each through
 * a real client on node 0, then, in each round, restart node 1 (so none of
 * them is in its memory), warm its JIT on a small document, and time a fresh
 * client joining each long document there: connect -> authenticated -> synced (Duet: and `session`)
 * with the whole text. Then, with that client still in for a second, a
 * second fresh client joins the same document on the same node: the common
 * case of someone opening an interview that is already open there. Then node
 * 1 restarts again and a client that has the whole document joins each one
 * there (*reconnect*): a participant whose node went down. One join
 * at a time, each client in a joiner process of its own (bench/joiner.ts),
 * not in the orchestrator, which holds the seeded histories.
 *
 * The history is either synthetic (8 writers typing at once at their own
 * cursors: a stress case, thousands of interleaved Yjs items) or a real
 * recorded session (--join-trace), each transaction typed by its author.
 */
import * as Y from 'yjs';
import { connectDuet, connectHocuspocus, FILE, textOf, type BenchClient } from './clients.js';
import { createHistogram, recordMs, summarize, type LatencySummary } from './histogram.js';
import { createRng } from './prng.js';
import { ask, spawnChild, waitFor as waitForMessage } from './processes.js';
import type { JoinReply, JoinRequest, PrepareRequest } from './joiner.js';
import { PROJECT_ROOT, startCluster, type ClusterOptions } from './systems/cluster.js';
import { signToken } from './tokens.js';
import { syntheticSource, type Edit, type Trace } from './typing.js';
import type { SystemName } from './workload.js';

const SEED_WRITERS = 8;

export interface JoinOptions {
  cluster: ClusterOptions;
  docs: number;
  /** Synthetic history: this many updates by SEED_WRITERS writers. Ignored with a trace. */
  updates: number;
  /** A recorded session to type instead, with each transaction's author if known. */
  trace?: { trace: Trace; agents?: number[] };
  rounds: number;
  seed: number;
  /**
   * The node sits idle this long before each cold join, as one between
   * interviews does: whatever it lets go of when quiet (database
   * connections), the join pays to get back. 0: joined at once.
   */
  idleMs?: number;
}

export interface JoinResult {
  system: SystemName;
  /** What history the documents have: "synthetic, 8 writers" or the trace's name and writers. */
  history: string;
  docs: number;
  updates: number;
  /** Characters of each seeded document. */
  chars: number;
  cold: LatencySummary;
  /** A fresh client joining while another client has the document open on the same node. */
  open?: LatencySummary;
  /** A client that has the whole document joining on a node just restarted, as after its own node went down. */
  reconnect?: LatencySummary;
  seedSeconds: number;
  failures: number;
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function runJoinScenario(options: JoinOptions): Promise<JoinResult> {
  const system = options.cluster.system;
  const cluster = await startCluster(options.cluster);
  try {
    const connect = (node: number, room: string, token: string) =>
      system === 'duet' ? connectDuet({ url: cluster.urls[node]!, room, token }) : connectHocuspocus({ url: cluster.urls[node]!, room, token });
    const admin = await signToken(cluster.secret, { role: 'admin', name: 'bench' });
    const newRoom = async (i: number): Promise<string> => {
      if (system === 'hocuspocus') return `join-${options.seed}-${i}-${Date.now()}`;
      const res = await fetch(`${cluster.httpUrls[0]}/api/interviews`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ title: `join ${i}`, language: 'typescript' }),
      });
      if (res.status !== 201) throw new Error(`create interview: ${res.status}`);
      return ((await res.json()) as { id: string }).id;
    };
    const token = (iid: string) => signToken(cluster.secret, { role: 'interviewer', name: 'joiner', iid });

    // Seed: every update its own transaction, so its own message and log entry.
    const seedStart = performance.now();
    const rooms = await Promise.all(Array.from({ length: options.docs }, (_, i) => newRoom(i)));
    const traced = options.trace;
    const writerCount = traced ? new Set(traced.agents ?? [0]).size : SEED_WRITERS;
    const expected = await Promise.all(
      rooms.map(async (room, i) => {
        const writers = await Promise.all(
          Array.from({ length: writerCount }, async () => {
            const c = connect(0, room, await token(room));
            await c.synced;
            return c;
          }),
        );
        if (!textOf(writers[0]!)) writers[0]!.doc.getMap('files').set(FILE, new Y.Text());
        await until(() => writers.every((w) => textOf(w) !== undefined), 10_000, 'the file');
        const type = async (c: BenchClient, edits: Iterable<Edit>) => {
          const text = textOf(c)!;
          for (const edit of edits) {
            if (c.unacknowledged() > 64) await until(() => c.unacknowledged() <= 16, 120_000, 'seeding acks');
            c.doc.transact(() => {
              for (const [pos, del, ins] of edit) {
                if (del > 0) text.delete(pos, del);
                if (ins) text.insert(pos, ins);
              }
            });
          }
          await until(() => c.unacknowledged() === 0, 120_000, 'the last seeding acks');
        };
        if (traced) {
          // One author at a time, in the recorded order; an author types only
          // once it has everything typed before (the trace's positions assume so).
          const authors = [...new Set(traced.agents ?? [0])];
          const writerOf = (k: number) => writers[authors.indexOf(traced.agents?.[k] ?? 0)]!;
          let k = 0;
          while (k < traced.trace.txns.length) {
            const c = writerOf(k);
            let end = k;
            while (end < traced.trace.txns.length && writerOf(end) === c) end++;
            const before = textOf(writerOf(Math.max(0, k - 1)))!.toString();
            await until(() => textOf(c)!.toString() === before, 30_000, 'the next author to catch up');
            await type(c, traced.trace.txns.slice(k, end));
            k = end;
          }
        } else {
          // Several writers at once: Duet takes one socket's updates one at a
          // time (each after the previous is durable), so one writer would take minutes.
          await Promise.all(
            writers.map((c, w) => {
              const source = syntheticSource(createRng(options.seed + i * 100 + w));
              return type(c, (function* () {
                for (let n = 0; n < options.updates / SEED_WRITERS; n++) yield source.next(textOf(c)!.length);
              })());
            }),
          );
        }
        const final = () => textOf(writers[0]!)!.toString();
        await until(() => writers.every((w) => textOf(w)!.toString() === final()), 30_000, 'the writers to converge');
        const content = final();
        for (const w of writers) w.close();
        return content;
      }),
    );
    // Hocuspocus stores a document when its last client leaves (and 2 s after a change).
    await new Promise((r) => setTimeout(r, system === 'hocuspocus' ? 4000 : 500));
    const seedSeconds = (performance.now() - seedStart) / 1000;

    const hist = createHistogram();
    const openHist = createHistogram();
    const reconnectHist = createHistogram();
    let failures = 0;
    const joiner = spawnChild(process.execPath, ['--import', 'tsx', 'bench/joiner.ts'], { cwd: PROJECT_ROOT, label: 'joiner' });
    try {
      await waitForMessage(joiner, 'ready', 30_000);
      let nextId = 0;
      // connect -> synced with the whole text, in the joiner; its id if the client stays open there.
      /** `prepared`: the id of a client `prepare` made, to connect now. */
      const timedJoin = async (node: number, room: string, expectedText: string, into?: ReturnType<typeof createHistogram>, prepared?: number) => {
        const id = prepared ?? nextId++;
        const request: JoinRequest = { type: 'join', id, system, url: cluster.urls[node]!, room, token: await token(room), expected: expectedText, reconnect: prepared !== undefined };
        let reply: JoinReply;
        try {
          reply = await ask<JoinReply>(joiner, request, 35_000);
        } catch (err) {
          // A join that hung counts as failed; a joiner that died ends the scenario.
          if (joiner.proc.exitCode !== null || joiner.proc.signalCode !== null) throw err;
          reply = { type: 'join', id, error: String(err) };
        }
        if (reply.id !== id) throw new Error(`the joiner answered join ${reply.id} for join ${id}`);
        if (into && (reply.ms === undefined || reply.differs)) failures++;
        if (reply.ms !== undefined && into) recordMs(into, reply.ms);
        return reply.ms === undefined ? undefined : id;
      };
      const close = (id: number | undefined) => (id === undefined ? undefined : ask(joiner, { type: 'close', id }));
      // The joiner's own JIT, warmed on each long document on node 0 (untimed),
      // as the orchestrator's was by seeding them.
      for (let i = 0; i < rooms.length; i++) await close(await timedJoin(0, rooms[i]!, expected[i]!));
      const warmRoom = await newRoom(999);
      const restartNode1 = async () => {
        await cluster.restart(1);
        // JIT and connection pools warm on a small document, as on a node that has been up a while.
        for (let w = 0; w < 3; w++) {
          const c = connect(1, warmRoom, await token(warmRoom));
          await c.synced;
          c.close();
        }
      };
      for (let round = 0; round < options.rounds; round++) {
        await restartNode1();
        for (let i = 0; i < rooms.length; i++) {
          if (options.idleMs) {
            // Only the node sits idle: the joiner keeps its JIT warm on node 0
            // meanwhile (untimed), as it is before every other timed join.
            const until = Date.now() + options.idleMs;
            while (Date.now() < until - 2500) {
              await close(await timedJoin(0, rooms[i]!, expected[i]!));
              await new Promise((r) => setTimeout(r, 2000));
            }
            await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now())));
          }
          const first = await timedJoin(1, rooms[i]!, expected[i]!, hist);
          if (first === undefined) continue;
          // Open for a while, as an interview someone joins late: the node has
          // finished the cold load's own work (Duet applies its copy after answering).
          await new Promise((r) => setTimeout(r, 1000));
          await close(await timedJoin(1, rooms[i]!, expected[i]!, openHist));
          await close(first);
        }
        // Clients with the documents, made before node 1 goes down, as its own clients have them.
        const reconnecting: number[] = [];
        for (const room of rooms) {
          const id = nextId++;
          const request: PrepareRequest = { type: 'prepare', id, system, url: cluster.urls[1]!, room, token: await token(room) };
          const reply = await ask<{ id: number; error?: string }>(joiner, request, 35_000);
          if (reply.error) throw new Error(`prepare a reconnection: ${reply.error}`);
          reconnecting.push(id);
        }
        await restartNode1();
        for (let i = 0; i < rooms.length; i++) await close(await timedJoin(1, rooms[i]!, expected[i]!, reconnectHist, reconnecting[i]));
      }
    } finally {
      await joiner.stop();
    }
    const idle = options.idleMs ? `, each after ${options.idleMs / 1000} s idle` : '';
    const history = (traced ? `${traced.trace.name}, ${writerCount} writer${writerCount > 1 ? 's' : ''}` : `synthetic, ${SEED_WRITERS} writers at once`) + idle;
    const updates = traced ? traced.trace.txns.length : options.updates;
    return { system, history, docs: options.docs, updates, chars: expected[0]?.length ?? 0, cold: summarize(hist), open: summarize(openHist), reconnect: summarize(reconnectHist), seedSeconds, failures };
  } finally {
    await cluster.stop();
  }
}
