/**
 * Test helpers: real nodes on random ports with their own data directories,
 * real Socket.IO clients with real Yjs documents, and teardown registered the
 * moment anything is created.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { io as ioc } from 'socket.io-client';
import { onTestFinished } from 'vitest';
import * as Y from 'yjs';
import { createServer, type DuetServer, type ServerOptions } from '../server/app.js';
import { defaultConfig, type Config } from '../server/config.js';
import { createProcessMetrics } from '../server/metrics.js';
import type { Store } from '../server/store/store.js';
import type { InviteRole, Role } from '../shared/roles.js';
import type { Interview, Participant } from '../shared/protocol.js';
import { DuetProvider, type DuetClientSocket } from '../shared/provider.js';
import type { DocName } from '../shared/roles.js';

/** prom-client's default metrics, once for this test process (server/metrics.ts). */
let processMetrics: ReturnType<typeof createProcessMetrics> | undefined;

export const TEST_SECRET = 'test-secret-that-is-long-enough-for-hs256!';

export function tempDir(prefix = 'duet-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface TestNode {
  server: DuetServer;
  url: string;
  config: Config;
  close(): Promise<void>;
}

/** Starts a node on a free port; closed automatically when the test ends. */
export async function startNode(
  overrides: Partial<Config> = {},
  options: ServerOptions & { keepOpen?: boolean; port?: number } = {},
): Promise<TestNode> {
  const config = defaultConfig({
    port: 0,
    host: '127.0.0.1',
    dataDir: overrides.dataDir ?? tempDir(),
    jwtSecret: TEST_SECRET,
    logLevel: 'silent',
    ...overrides,
  });
  // No start-up warm-up: hundreds of nodes start in the suite, and it is tested on its own.
  // The process's default metrics made once (they outlive a node): a worker runs many files.
  processMetrics ??= createProcessMetrics();
  const server = await createServer(config, { logger: pino({ level: 'silent' }), roomUnloadMs: 200, warmUp: false, processMetrics, ...options });
  const { url } = await server.listen(options.port ?? 0, '127.0.0.1');
  let closed = false;
  const node: TestNode = {
    server,
    url,
    config,
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
    },
  };
  if (!options.keepOpen) onTestFinished(() => node.close());
  return node;
}

export async function adminToken(node: TestNode, sub = 'admin-1', name = 'Admin'): Promise<string> {
  return node.server.ctx.tokens.sign({ sub, name, role: 'admin' }, 3600);
}

export async function interviewerToken(node: TestNode, sub = 'ada', name = 'Ada'): Promise<string> {
  return node.server.ctx.tokens.sign({ sub, name, role: 'interviewer' }, 3600);
}

export async function api<T = any>(
  url: string,
  path: string,
  init: { method?: string; token?: string; body?: unknown; rawBody?: string } = {},
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined || init.rawBody !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url + path, {
    method: init.method ?? (init.body !== undefined || init.rawBody !== undefined ? 'POST' : 'GET'),
    headers,
    body: init.rawBody ?? (init.body !== undefined ? JSON.stringify(init.body) : undefined),
  });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body };
}

export interface TestInterview {
  interview: Interview;
  /** The creator's interviewer token scoped to the interview. */
  token: string;
  invite(role: InviteRole, name?: string): Promise<string>;
}

export async function createInterview(node: TestNode, title = 'Backend interview', language = 'typescript'): Promise<TestInterview> {
  const owner = await interviewerToken(node);
  const res = await api(node.url, '/api/interviews', { token: owner, body: { title, language } });
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
  const { token, ...interview } = res.body;
  return {
    interview,
    token,
    async invite(role, name = role) {
      const r = await api(node.url, `/api/interviews/${interview.id}/invites`, { token, body: { role, name } });
      if (r.status !== 201) throw new Error(`invite failed: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.token as string;
    },
  };
}

/** A raw socket; disconnected when the test ends. `auth`: more of the handshake's auth than the token. */
export function connectSocket(
  url: string,
  token: string,
  { auth, ...opts }: { autoConnect?: boolean; reconnection?: boolean; auth?: Record<string, unknown> } = {},
): DuetClientSocket {
  const socket: DuetClientSocket = ioc(url, {
    auth: { ...auth, token },
    transports: ['websocket'],
    forceNew: true,
    reconnectionDelay: 50,
    reconnectionDelayMax: 500,
    ...opts,
  });
  onTestFinished(() => {
    socket.disconnect();
  });
  return socket;
}

export interface TestClient {
  socket: DuetClientSocket;
  provider: DuetProvider;
  text(path?: string): string;
  files(): Y.Map<Y.Text>;
  /** The latest participants list this client was sent. */
  participants(): Participant[];
  /** How many `participants` events it was sent (`session`'s list not counted). */
  participantEvents(): number;
}

/** A full client: socket + provider, synced and sent its `session` before it resolves (the sync may come first). */
export async function connectClient(
  url: string,
  token: string,
  docs: DocName[] = ['main'],
  options?: ConstructorParameters<typeof DuetProvider>[2],
): Promise<TestClient> {
  const socket = connectSocket(url, token);
  const provider = new DuetProvider(socket, docs, options);
  let participants: Participant[] = [];
  provider.on('session', (s) => (participants = s.participants));
  let participantEvents = 0;
  socket.on('participants', (p) => {
    participants = p;
    participantEvents++;
  });
  onTestFinished(() => provider.destroy());
  await Promise.race([
    Promise.all([
      ...docs.map((d) => provider.whenSynced(d)),
      new Promise((resolve) => (provider.session ? resolve(undefined) : provider.on('session', () => resolve(undefined)))),
    ]),
    new Promise((_, reject) =>
      socket.once('connect_error', (err: Error & { data?: unknown }) =>
        reject(new Error(`connect_error: ${JSON.stringify(err.data ?? err.message)}`)),
      ),
    ),
  ]);
  const files = () => provider.doc('main').getMap<Y.Text>('files');
  return {
    socket,
    provider,
    files,
    participants: () => participants,
    participantEvents: () => participantEvents,
    text(path) {
      const map = files();
      const key = path ?? [...map.keys()].sort()[0];
      return key === undefined ? '' : (map.get(key)?.toString() ?? '');
    },
  };
}

/** Polls until `check` passes (or throws its last error after `timeoutMs`). */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 5000, intervalMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await check();
      if (value !== false) return value;
      if (Date.now() > deadline) throw new Error('waitFor: condition still false');
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function nextEvent<T = unknown>(socket: DuetClientSocket, event: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    (socket as any).once(event, (payload: T) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });
}

/** The connect_error data of a refused handshake. */
export function refusal(url: string, token: string | undefined, auth: Record<string, unknown> = {}): Promise<{ code: string; message: string }> {
  const socket = ioc(url, { auth: token === undefined ? auth : { ...auth, token }, transports: ['websocket'], forceNew: true, reconnection: false });
  onTestFinished(() => {
    socket.disconnect();
  });
  return new Promise((resolve, reject) => {
    socket.on('connect', () => reject(new Error('handshake was accepted')));
    socket.on('connect_error', (err: Error & { data?: { code: string; message: string } }) => {
      if (err.data) resolve(err.data);
      else reject(err);
    });
  });
}

export function mainFile(client: TestClient): Y.Text {
  const map = client.files();
  const key = [...map.keys()].sort()[0]!;
  return map.get(key)!;
}

export type { Role };

/** mulberry32: a small seeded PRNG; returns an integer in [0, n). */
export function seededRandom(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** A promise and the function that resolves it. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Wraps every call of one of this store's methods (the event log's
 * `readEvents`, the participant list's `listParticipants`...) to slow, hold
 * or fail it. The store is the real one; the wrapper is removed when the
 * test finishes.
 */
function wrapStoreCalls<K extends keyof Store>(
  store: Store,
  method: K,
  wrap: (call: () => Promise<unknown>, args: unknown[]) => Promise<unknown>,
): void {
  const original = store[method];
  const call = (original as (...args: unknown[]) => Promise<unknown>).bind(store);
  store[method] = ((...args: unknown[]) => wrap(() => call(...args), args)) as Store[K];
  onTestFinished(() => {
    store[method] = original;
  });
}

/** Runs `before` ahead of every call of one of this store's methods. */
function beforeStoreCalls(store: Store, method: keyof Store, before: () => Promise<void>): void {
  wrapStoreCalls(store, method, async (call) => {
    await before();
    return call();
  });
}

/** Counts the calls of one of this store's methods (those whose arguments `matches`) from now until the test ends. */
export function countStoreCalls(store: Store, method: keyof Store, matches: (args: unknown[]) => boolean = () => true): () => number {
  let calls = 0;
  wrapStoreCalls(store, method, (call, args) => {
    if (matches(args)) calls++;
    return call();
  });
  return () => calls;
}

/** Makes every call of one of this store's methods take `ms` longer. */
export function slowStoreCalls(store: Store, method: keyof Store, ms: number): { stop: () => void } {
  let slow = true;
  beforeStoreCalls(store, method, () => (slow ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve()));
  return { stop: () => void (slow = false) };
}

/**
 * Holds the answer of the next call of one of this store's methods: the call
 * runs now, its answer reaches the caller only once `release` is called (or
 * the test finishes). `answered` resolves with the held answer (or its
 * error) once it is in hand, so a test can check it held the call it meant to.
 * Only calls whose arguments `matches` count; the first `skip` of them and
 * those after the held one are not held.
 */
export function holdNextStoreAnswer(
  store: Store,
  method: keyof Store,
  skip = 0,
  matches: (args: unknown[]) => boolean = () => true,
): { answered: Promise<unknown>; release: () => void } {
  const gate = deferred();
  const answered = deferred<unknown>();
  let calls = 0;
  wrapStoreCalls(store, method, async (call, args) => {
    if (!matches(args) || calls++ !== skip) return call();
    const answer = call();
    await answer.then(answered.resolve, answered.resolve);
    await gate.promise;
    return answer;
  });
  onTestFinished(() => gate.resolve());
  return { answered: answered.promise, release: () => gate.resolve() };
}

/**
 * Holds a call of one of this store's methods before it runs: the `skip`
 * calls before it run at once, and so do those after it. `reached` resolves
 * once it waits; it runs once `release` is called (or the test finishes).
 */
export function holdNextStoreCall(store: Store, method: keyof Store, skip = 0): { reached: Promise<void>; release: () => void } {
  const gate = deferred();
  const reached = deferred();
  let calls = 0;
  wrapStoreCalls(store, method, async (call) => {
    if (calls++ !== skip) return call();
    reached.resolve();
    await gate.promise;
    return call();
  });
  onTestFinished(() => gate.resolve());
  return { reached: reached.promise, release: () => gate.resolve() };
}

/**
 * The next call of one of this store's methods fails, as if the database had
 * not answered; later calls run. With `held`, it fails only once the returned
 * `fail` is called (`reached` resolves once the call is waiting).
 */
export function failNextStoreCall(store: Store, method: keyof Store, held = false): { reached: Promise<void>; fail: () => void } {
  const gate = deferred();
  const reached = deferred();
  if (!held) gate.resolve();
  let failed = false;
  wrapStoreCalls(store, method, async (call) => {
    if (failed) return call();
    failed = true;
    reached.resolve();
    await gate.promise;
    throw new Error(`test: ${String(method)} failed`);
  });
  onTestFinished(() => gate.resolve());
  return { reached: reached.promise, fail: () => gate.resolve() };
}

/**
 * The next call of one of this store's methods runs (and commits), but its
 * caller gets an error, as when the connection drops before the answer;
 * `lost` resolves once it has happened.
 */
export function loseNextStoreAnswer(store: Store, method: keyof Store): { lost: Promise<void> } {
  const lost = deferred();
  let done = false;
  wrapStoreCalls(store, method, async (call) => {
    if (done) return call();
    done = true;
    await call();
    lost.resolve();
    throw new Error(`test: ${String(method)}'s answer was lost`);
  });
  return { lost: lost.promise };
}

/** Holds every read of the event log on this store until the returned function is called (or the test finishes). */
export function holdLogReads(store: Store): () => void {
  const gate = deferred();
  beforeStoreCalls(store, 'readEvents', () => gate.promise);
  onTestFinished(() => gate.resolve());
  return gate.resolve;
}
