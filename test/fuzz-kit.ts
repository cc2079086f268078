/**
 * What the fuzz files share: a node whose abuse limits are out of the way (the
 * fuzzers test input handling, test/abuse.test.ts tests the limits), a
 * bystander that keeps typing and chatting through the whole run, a record of
 * the interview before and after, and the check every reply must pass.
 *
 * FUZZ_SCALE multiplies every fuzz file's case count (`npm run test:fuzz-long`).
 */
import fc from 'fast-check';
import * as encoding from 'lib0/encoding';
import { pino } from 'pino';
import { expect, onTestFinished } from 'vitest';
import * as Y from 'yjs';
import { ERROR_CODES } from '../shared/errors.js';
import type { LoggedEvent } from '../shared/protocol.js';
import { api, connectClient, createInterview, mainFile, waitFor, type TestClient, type TestInterview, type TestNode } from './helpers.js';
import { startNodeOn, type Backend } from './fixtures/multi-node.js';

export const FUZZ_SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1) || 1);

/** Per fuzz test: generous, since a loaded CI machine is slower and the long mode does FUZZ_SCALE times the work. */
export const FUZZ_TIMEOUT = 300_000 * FUZZ_SCALE;

/** Cases for one property: `base` per `npm test`, times FUZZ_SCALE. */
export function runs(base: number): number {
  return Math.round(base * FUZZ_SCALE);
}

/**
 * Text as a person types it, or of any code point: a NUL or a lone surrogate
 * among them (text PostgreSQL refuses or replaces, which SQLite takes).
 */
export function anyText(constraints: { minLength?: number; maxLength: number }): fc.Arbitrary<string> {
  return fc.oneof(fc.string(constraints), fc.string({ ...constraints, unit: 'binary' }));
}

const KNOWN_CODES = new Set<string>(ERROR_CODES);

/**
 * Error-level lines the test's nodes logged: an unexpected error anywhere in a node shows up
 * here. Emptied as each test ends: the fuzz files share this module (one process runs a
 * worker's files), and one test's errors are not the next one's.
 */
export const nodeErrors: string[] = [];

/** A node that lets the fuzzer's requests through its rate limits. */
export async function startFuzzNode(backend: Backend = 'sqlite'): Promise<TestNode> {
  onTestFinished(() => void (nodeErrors.length = 0));
  const logger = pino({ level: 'error' }, { write: (line: string) => void nodeErrors.push(line) });
  return startNodeOn(
    backend,
    {
      socketEventsPerSecond: 1_000_000,
      socketEventBurst: 1_000_000,
      handshakesPerMinute: 1_000_000,
      httpRequestsPerMinute: 1_000_000,
    },
    { logger },
  );
}

/**
 * An ack is either a success or `{error: {code, message}}` with a code from
 * shared/errors.ts. `internal` is a crash path, so it fails too, and so does
 * a message that carries a stack trace or internal detail.
 */
export function checkReply(reply: unknown): 'ok' | string {
  expect(reply).toBeTypeOf('object');
  expect(reply).not.toBeNull();
  const error = (reply as { error?: { code?: unknown; message?: unknown } }).error;
  if (error === undefined) return 'ok';
  expect(KNOWN_CODES.has(String(error.code)), `unknown code ${String(error.code)}`).toBe(true);
  expect(error.code, nodeErrors.join('\n').slice(0, 2000)).not.toBe('internal');
  expect(typeof error.message).toBe('string');
  expect(String(error.message)).not.toMatch(/\n\s+at |node_modules|SQLITE|Error: /);
  expect(String(error.message).length, String(error.message).slice(0, 300)).toBeLessThan(500);
  return String(error.code);
}

export interface Bystander {
  client: TestClient;
  /** Stops typing; resolves with everything it typed once acknowledged. */
  stop(): Promise<string>;
  errors: unknown[];
  disconnects: number;
  /** The file's text when the bystander started. */
  base: string;
}

/** An interviewer who types a character every few ms and chats now and then, until stopped. */
export async function startBystander(node: TestNode, iv: TestInterview): Promise<Bystander> {
  const client = await connectClient(node.url, await iv.invite('interviewer', 'Bystander'), ['main', 'notes']);
  const errors: unknown[] = [];
  const state = { disconnects: 0 };
  client.socket.on('error', (e) => errors.push(e));
  client.socket.on('disconnect', () => state.disconnects++);
  let typed = '';
  const base = mainFile(client).toString();
  let running = true;
  const loop = (async () => {
    let i = 0;
    while (running) {
      const ch = String.fromCharCode(97 + (i % 26));
      const text = mainFile(client);
      text.insert(text.length, ch);
      typed += ch;
      if (i % 100 === 0) {
        const reply = await client.socket.timeout(10_000).emitWithAck('chat:send', { channel: 'room', text: `bystander ${i}` });
        if ((reply as { error?: unknown }).error) errors.push(reply);
      }
      i++;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  // A test that never stops its bystander (the handshake fuzz) ends with the
  // socket disconnected under a chat in flight: stop typing, and keep the
  // rejected ack out of the run's unhandled errors.
  const settled = loop.catch((e: unknown) => void errors.push(e));
  onTestFinished(() => {
    running = false;
  });
  return {
    client,
    errors,
    base,
    get disconnects() {
      return state.disconnects;
    },
    async stop() {
      running = false;
      await settled;
      await waitFor(() => client.provider.pending === 0, 10_000);
      return typed;
    },
  };
}

export interface Record {
  events: LoggedEvent[];
  files: { [path: string]: string };
  interview: unknown;
}

export async function readRecord(node: TestNode, iv: TestInterview): Promise<Record> {
  const id = iv.interview.id;
  const events: LoggedEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await api(node.url, `/api/interviews/${id}/events?after=${after}&limit=1000`, { token: iv.token });
    expect(page.status).toBe(200);
    events.push(...page.body.events);
    if (page.body.next === null) break;
    after = page.body.next;
  }
  const doc = await api(node.url, `/api/interviews/${id}/document`, { token: iv.token });
  const interview = await api(node.url, `/api/interviews/${id}`, { token: iv.token });
  return { events, files: doc.body.files, interview: interview.body };
}

/** A fuzz target: a node, an interview with some content, and a bystander. */
export async function fuzzTarget(backend: Backend = 'sqlite') {
  const node = await startFuzzNode(backend);
  const iv = await createInterview(node, 'Fuzz target');
  const seedClient = await connectClient(node.url, await iv.invite('candidate', 'Seeder'));
  mainFile(seedClient).insert(0, 'def solve(xs):\n    return sorted(xs)\n');
  await waitFor(() => seedClient.provider.pending === 0);
  await seedClient.socket.emitWithAck('chat:send', { channel: 'room', text: 'hello' });
  seedClient.provider.destroy();
  seedClient.socket.disconnect();
  const bystander = await startBystander(node, iv);
  return { node, iv, bystander };
}

/**
 * The end of every fuzz run: the node answers, the bystander was never
 * disturbed and converges with a fresh client, and the record changed only
 * by what the bystander did plus `accepted` (events the fuzzer was told were
 * accepted), with the document text exactly what was typed.
 */
export async function checkAfterFuzz(
  node: TestNode,
  iv: TestInterview,
  bystander: Bystander,
  before: Record,
  fuzzSubs: Set<string>,
  accepted: Map<string, number>,
  acceptedUpdates: AcceptedUpdate[] = [],
): Promise<void> {
  const typed = await bystander.stop();
  // Nothing the fuzzer did made the node log an error (an unexpected exception anywhere).
  expect(nodeErrors).toEqual([]);
  expect(bystander.errors).toEqual([]);
  expect(bystander.disconnects).toBe(0);
  expect((await api(node.url, '/healthz')).status).toBe(200);

  const after = await readRecord(node, iv);
  const [path] = Object.keys(before.files);
  expect(after.files).toEqual({ [path!]: bystander.base + typed });

  const fresh = await connectClient(node.url, await iv.invite('observer', 'Checker'));
  await waitFor(() => fresh.text() === bystander.client.text(), 10_000);
  expect(fresh.text()).toBe(after.files[path!]);

  // Old events untouched; new ones only the bystander's and what was acknowledged.
  expect(after.events.slice(0, before.events.length)).toEqual(before.events);
  const added = after.events.slice(before.events.length);
  const byFuzzer = new Map<string, number>();
  for (const e of added) {
    if (!fuzzSubs.has(e.actor.sub)) {
      expect(e.actor.name).toMatch(/^(Bystander|Checker)$/);
      continue;
    }
    if (e.type === 'join' || e.type === 'leave' || e.type === 'doc') continue;
    byFuzzer.set(e.type, (byFuzzer.get(e.type) ?? 0) + 1);
  }
  expect(Object.fromEntries(byFuzzer)).toEqual(Object.fromEntries([...accepted].filter(([, n]) => n > 0)));
  checkLoggedUpdates(after.events, fuzzSubs, acceptedUpdates);
}

export interface AcceptedUpdate {
  doc: 'main' | 'notes';
  update: Uint8Array;
}

/**
 * The fuzzers' document events in the log are exactly the updates they were
 * told were accepted, less those that changed nothing (the node acknowledges
 * an update it already has without logging it again): each accepted update
 * missing from the log must leave the logged document as it is.
 */
export function checkLoggedUpdates(events: LoggedEvent[], fuzzSubs: Set<string>, accepted: AcceptedUpdate[]): void {
  const key = (doc: string, bytes: Uint8Array) => `${doc}:${Buffer.from(bytes).toString('base64')}`;
  const unlogged = new Map<string, AcceptedUpdate[]>();
  for (const u of accepted) unlogged.set(key(u.doc, u.update), [...(unlogged.get(key(u.doc, u.update)) ?? []), u]);
  const replay = { main: new Y.Doc(), notes: new Y.Doc() };
  for (const e of events) {
    if (e.type !== 'doc') continue;
    const doc = e.data.doc as 'main' | 'notes';
    const bytes = Buffer.from(String(e.data.update), 'base64');
    const known = Y.encodeStateVector(replay[doc]);
    Y.applyUpdate(replay[doc], bytes);
    if (!fuzzSubs.has(e.actor.sub)) continue;
    let same = unlogged.get(key(doc, bytes));
    if (!same?.length) {
      // Logged as the part the node lacked (an update over part of a struct it had): cut the same way.
      const cutTo = (u: Uint8Array) => {
        try {
          return key(doc, Y.diffUpdate(u, known));
        } catch {
          return undefined;
        }
      };
      same = [...unlogged.values()].find((list) => list.length > 0 && list[0]!.doc === doc && cutTo(list[0]!.update) === key(doc, bytes));
    }
    expect(same?.length, 'a logged fuzz update that was not acknowledged as accepted').toBeGreaterThan(0);
    same!.pop();
  }
  for (const u of [...unlogged.values()].flat()) {
    const copy = new Y.Doc();
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(replay[u.doc]));
    const was = Y.encodeStateAsUpdate(copy);
    Y.applyUpdate(copy, u.update);
    // The update's bytes in the message: a failure here could not be reproduced from the seed alone (random Yjs client ids).
    expect(
      Buffer.from(Y.encodeStateAsUpdate(copy)).equals(Buffer.from(was)),
      `an accepted update that is not in the log changes the document: ${u.doc} ${Buffer.from(u.update).toString('base64')}`,
    ).toBe(true);
  }
}

/** The Yjs document the node would hand a new client: for building valid-then-broken updates. */
export function docOf(files: { [path: string]: string }): Y.Doc {
  const doc = new Y.Doc();
  const map = doc.getMap<Y.Text>('files');
  for (const [p, t] of Object.entries(files)) map.set(p, new Y.Text(t));
  return doc;
}

/** A Yjs (v1) update of hand-made blocks, each [client, first clock, structs], with no deletions: shapes no Yjs client writes. */
export function encodeBlocks(...blocks: Array<[number, number, Array<Y.Item | Y.GC>]>): Uint8Array {
  const enc = new Y.UpdateEncoderV1();
  encoding.writeVarUint(enc.restEncoder, blocks.length);
  for (const [client, clock, structs] of blocks) {
    encoding.writeVarUint(enc.restEncoder, structs.length);
    enc.writeClient(client);
    encoding.writeVarUint(enc.restEncoder, clock);
    for (const st of structs) st.write(enc, 0);
  }
  encoding.writeVarUint(enc.restEncoder, 0);
  return enc.toUint8Array();
}
