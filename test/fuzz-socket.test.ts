/**
 * Fuzzing every Socket.IO client event (and events clients may not send) with
 * random, malformed, wrongly-typed, oversized and smuggling payloads, against
 * a running node with a bystander typing throughout. Every case must get an
 * ack with a success or a known error code; nothing refused may reach the log,
 * the document or the bystander.
 */
import fc from 'fast-check';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { Encoder, PacketType } from 'socket.io-parser';
import { WebSocket } from 'ws';
import * as Y from 'yjs';
import { io as ioc } from 'socket.io-client';
import { CLIENT_EVENTS, type HandshakeSyncAnswer, type SessionInfo } from '../shared/protocol.js';
import { DOC_NAMES } from '../shared/roles.js';
import { LANGUAGE_IDS } from '../shared/languages.js';
import { LIMITS } from '../shared/limits.js';
import { SIGNAL_KINDS } from '../shared/schemas.js';
import { type AcceptedUpdate, anyText, checkAfterFuzz, checkReply, FUZZ_TIMEOUT, fuzzTarget, nodeErrors, readRecord, runs } from './fuzz-kit.js';
import { connectSocket, nextEvent, waitFor } from './helpers.js';
import { BACKENDS } from './fixtures/multi-node.js';

type Payload = Record<string, unknown>;

/** JSON-able junk (Socket.IO serialises with JSON; BigInt would throw in the client, not the node). */
const junk = fc.anything({
  maxDepth: 3,
  maxKeys: 5,
  withTypedArray: true,
  withDate: true,
  withNullPrototype: true,
  withSparseArray: true,
  key: fc.oneof(
    fc.string({ maxLength: 12 }),
    // Not __proto__ here: socket.io-client cannot serialise such an object (SMUGGLED and the raw frames cover it).
    fc.constantFrom('constructor', 'prototype', 'doc', 'update', 'text', 'role', 'iid', 'sub', 'toString', 'hasOwnProperty'),
  ),
});

const bytes = fc.uint8Array({ maxLength: 64 });
const bigString = (over: number) => fc.integer({ min: over + 1, max: over + 64 }).map((n) => 'x'.repeat(n));

/** Each event's fields: a valid value, and values past its limit. */
const FIELDS: { [event: string]: { [field: string]: { valid: fc.Arbitrary<unknown>; over?: fc.Arbitrary<unknown> } } } = {
  'doc:sync': {
    doc: { valid: fc.constantFrom('main', 'notes') },
    stateVector: { valid: bytes, over: fc.constant(new Uint8Array(LIMITS.stateVectorBytes + 1)) },
  },
  'doc:update': {
    doc: { valid: fc.constantFrom('main', 'notes') },
    update: { valid: bytes, over: fc.constant(new Uint8Array(LIMITS.updateBytes + 1)) },
  },
  awareness: {
    doc: { valid: fc.constantFrom('main', 'notes') },
    update: { valid: bytes, over: fc.constant(new Uint8Array(LIMITS.awarenessBytes + 1)) },
  },
  'chat:send': {
    channel: { valid: fc.constantFrom('room', 'panel') },
    // A NUL or a lone surrogate must not fail the commit of a group on PostgreSQL.
    text: { valid: anyText({ minLength: 1, maxLength: 40 }), over: bigString(LIMITS.chatChars) },
  },
  'interview:language': { language: { valid: fc.constantFrom(...LANGUAGE_IDS) } },
  'signal:report': {
    kind: { valid: fc.constantFrom(...SIGNAL_KINDS) },
    size: { valid: fc.nat(LIMITS.docChars), over: fc.integer({ min: LIMITS.docChars + 1 }) },
    path: { valid: anyText({ minLength: 1, maxLength: 30 }), over: bigString(LIMITS.signalPathChars) },
  },
  'run:start': {
    path: { valid: fc.constantFrom('main.py', 'a/b.py'), over: bigString(200) },
    stdin: { valid: fc.string({ maxLength: 20 }), over: bigString(LIMITS.runStdinChars) },
  },
  'run:stop': { runId: { valid: fc.string({ minLength: 1, maxLength: 20 }), over: bigString(100) } },
  'run:settings': { candidateMayRun: { valid: fc.boolean() } },
};

/** Claims a client might try to slip into a payload. */
const SMUGGLED = fc.record({
  key: fc.constantFrom('role', 'iid', 'sub', 'actor', 'interviewId', 'from', 'name', '__proto__', 'admin'),
  value: fc.oneof(fc.constantFrom('interviewer', 'admin', 'other-interview', { role: 'admin' }), junk),
});

/** Near-valid payloads: one field broken, missing, past its limit, or an extra field smuggled in. */
function nearValid(event: string): fc.Arbitrary<unknown> {
  const fields = FIELDS[event] ?? {};
  const names = Object.keys(fields);
  const valid = fc.record(Object.fromEntries(names.map((n) => [n, fields[n]!.valid])) as { [k: string]: fc.Arbitrary<unknown> });
  if (names.length === 0) return junk;
  const withOver = names.filter((n) => fields[n]!.over);
  const options: fc.Arbitrary<unknown>[] = [
    // One field replaced by junk.
    fc.tuple(valid, fc.constantFrom(...names), junk).map(([v, k, j]) => ({ ...(v as Payload), [k]: j })),
    // One field missing.
    fc.tuple(valid, fc.constantFrom(...names)).map(([v, k]) => {
      const copy = { ...(v as Payload) };
      delete copy[k];
      return copy;
    }),
    // A claim smuggled in (strict schemas refuse unknown keys).
    fc.tuple(valid, SMUGGLED).map(([v, s]) => {
      const copy = { ...(v as Payload) };
      Object.defineProperty(copy, s.key, { value: s.value, enumerable: true, configurable: true, writable: true });
      return copy;
    }),
    // The payload wrapped or replaced by another type.
    valid.map((v) => [v]),
    valid.map((v) => JSON.stringify(v)),
  ];
  if (withOver.length > 0) {
    options.push(
      fc.tuple(valid, fc.constantFrom(...withOver)).chain(([v, k]) => fields[k]!.over!.map((o) => ({ ...(v as Payload), [k]: o }))),
    );
  }
  return fc.oneof(...options);
}

/** Events no client may send: server-to-client names, near misses, random names. */
const FOREIGN_EVENTS = fc.oneof(
  fc.constantFrom('session', 'chat:message', 'participants', 'interview', 'error', 'run:state', 'run:output', 'run:exit', 'signal'),
  fc.constantFrom('doc:updat', 'DOC:UPDATE', 'doc:update ', 'admin:end', '__proto__', 'constructor', 'hasOwnProperty', 'toString'),
  fc
    .string({ minLength: 1, maxLength: 40 })
    .filter((s) => !['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener'].includes(s)),
);

type Case = { socket: 'cand' | 'obs'; event: string; payload: unknown };

const ownCase: fc.Arbitrary<Case> = fc
  .tuple(fc.constantFrom(...CLIENT_EVENTS), fc.constantFrom<'cand' | 'obs'>('cand', 'obs'), fc.nat(9))
  .chain(([event, who, pick]) =>
    (pick < 6 ? nearValid(event) : junk).map((payload) => ({
      event,
      // Code runs only from the observer: a valid run:start from a candidate would really run code.
      socket: event.startsWith('run:') ? ('obs' as const) : who,
      payload,
    })),
  );

const foreignCase: fc.Arbitrary<Case> = fc
  .tuple(FOREIGN_EVENTS, fc.constantFrom<'cand' | 'obs'>('cand', 'obs'), junk)
  .map(([event, socket, payload]) => ({ event, socket, payload }));

/** Encodes with socket.io-client's own parser: binary payloads are deconstructed first, which JSON.stringify alone does not try. */
const encoder = new Encoder();
function serialisable(payload: unknown): boolean {
  try {
    encoder.encode({ type: PacketType.EVENT, nsp: '/', data: ['probe', payload], id: 1 });
    return true;
  } catch {
    return false;
  }
}

/** Events whose acceptance logs one event of this type (doc:update: see checkLoggedUpdates). */
const LOGGED_AS: { [event: string]: string } = {
  'chat:send': 'chat',
  'interview:language': 'language',
  'signal:report': 'signal',
  'run:settings': 'run_settings',
};

describe('fuzzing the Socket.IO events', () => {
  it.each(BACKENDS)('answers every random, malformed, oversized or foreign event with a code and changes only what it accepted (%s)', async (backend) => {
    const { node, iv, bystander } = await fuzzTarget(backend);
    const [candToken, obsToken] = [await iv.invite('candidate', 'Fuzz candidate'), await iv.invite('observer', 'Fuzz observer')];
    const sockets = { cand: connectSocket(node.url, candToken), obs: connectSocket(node.url, obsToken) };
    const sessions = await Promise.all([nextEvent<any>(sockets.cand, 'session'), nextEvent<any>(sockets.obs, 'session')]);
    const fuzzSubs = new Set<string>(sessions.map((s) => s.you.sub));
    let disconnects = 0;
    for (const s of Object.values(sockets)) s.on('disconnect', () => disconnects++);

    const before = await readRecord(node, iv);
    const accepted = new Map<string, number>();
    const acceptedUpdates: AcceptedUpdate[] = [];
    const codes = new Map<string, number>();
    let cases = 0;

    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof({ weight: 4, arbitrary: ownCase }, { weight: 1, arbitrary: foreignCase }), { minLength: 50, maxLength: 150 }), async (generated) => {
        // What socket.io-client itself cannot serialise (fast-check likes keys such as
        // "__proto__", which give an object a Date prototype) never reaches the node.
        const batch = generated.filter((c) => serialisable(c.payload));
        // One batch in flight at once over the two sockets, each with its ack.
        const replies = await Promise.all(
          batch.map((c) => (sockets[c.socket] as any).timeout(10_000).emitWithAck(c.event, c.payload) as Promise<unknown>),
        );
        replies.forEach((reply, i) => {
          const c = batch[i]!;
          const code = checkReply(reply);
          codes.set(code, (codes.get(code) ?? 0) + 1);
          if (!(CLIENT_EVENTS as readonly string[]).includes(c.event)) expect(code).toBe('unknown_event');
          if (code === 'ok' && c.event === 'doc:update') acceptedUpdates.push(c.payload as unknown as AcceptedUpdate);
          else if (code === 'ok' && LOGGED_AS[c.event]) accepted.set(LOGGED_AS[c.event]!, (accepted.get(LOGGED_AS[c.event]!) ?? 0) + 1);
        });
        cases += batch.length;
      }),
      { numRuns: runs(60), seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );

    expect(disconnects).toBe(0);
    expect(cases).toBeGreaterThanOrEqual(runs(60) * 45);
    // The fuzzer reached past the schemas: refusals of several kinds, not just invalid_payload.
    expect(codes.get('invalid_payload')).toBeGreaterThan(0);
    expect(codes.get('unknown_event')).toBeGreaterThan(0);
    expect(codes.get('too_large')).toBeGreaterThan(0);
    await checkAfterFuzz(node, iv, bystander, before, fuzzSubs, accepted, acceptedUpdates);
  }, FUZZ_TIMEOUT);

  it('answers events sent without an ack with an `error` event, one per refusal', async () => {
    const { node, iv, bystander } = await fuzzTarget();
    const cand = connectSocket(node.url, await iv.invite('candidate', 'Fuzz candidate'));
    const session = await nextEvent<any>(cand, 'session');
    const before = await readRecord(node, iv);
    const errors: Array<{ code: string; message: string }> = [];
    cand.on('error', (e) => errors.push(e));

    // Payloads no schema accepts (not objects), to every event, with no ack.
    const noAck = fc.tuple(
      fc.oneof(fc.constantFrom(...CLIENT_EVENTS), FOREIGN_EVENTS),
      fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.nat(), { maxLength: 3 })),
    );
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(noAck, { minLength: 20, maxLength: 60 }), async (batch) => {
        const expected = errors.length + batch.length;
        for (const [event, payload] of batch) (cand as any).emit(event, payload);
        sent += batch.length;
        // A ping through the same socket: its ack comes after every earlier event was handled.
        await cand.timeout(10_000).emitWithAck('doc:sync', { doc: 'main', stateVector: new Uint8Array([0]) });
        await waitFor(() => errors.length >= expected, 10_000);
        expect(errors.length).toBe(expected);
      }),
      { numRuns: runs(15) },
    );
    expect(sent).toBeGreaterThan(0);
    for (const e of errors) checkReply({ error: e });
    await checkAfterFuzz(node, iv, bystander, before, new Set([session.you.sub]), new Map());
  }, FUZZ_TIMEOUT);

  it('answers a random or malformed auth.sync with a handshake refusal, or with one doc:sync answer per document asked', async () => {
    const { node, iv } = await fuzzTarget();
    const token = await iv.invite('observer', 'Fuzz handshake');
    const base64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
    const vector = fc.oneof(
      fc.uint8Array({ maxLength: 24 }).map(base64),
      // Well-formed state vectors, of clients the node may or may not know.
      fc.array(fc.tuple(fc.nat(2 ** 31), fc.nat(1000)), { maxLength: 4 }).map((v) => base64(Y.encodeStateVector(new Map(v)))),
    );
    const sync = fc.oneof(
      junk,
      fc.record({ main: fc.oneof(vector, junk), notes: fc.oneof(vector, junk) }, { requiredKeys: [] }),
      fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('main', 'notes')), vector, { maxKeys: 3 }),
      fc.constant({ main: 'A'.repeat(LIMITS.stateVectorBytes * 2) }),
    );
    const codes = new Map<string, number>();
    const count = (code: string) => codes.set(code, (codes.get(code) ?? 0) + 1);
    await fc.assert(
      fc.asyncProperty(sync, async (value) => {
        try {
          encoder.encode({ type: PacketType.CONNECT, nsp: '/', data: { token, sync: value } });
        } catch {
          return; // socket.io-client could not send it either
        }
        const socket = ioc(node.url, { auth: { token, sync: value }, transports: ['websocket'], forceNew: true, reconnection: false });
        try {
          const outcome = await new Promise<{ refused: unknown } | { session: SessionInfo; answers: HandshakeSyncAnswer[] }>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('neither refused nor answered')), 10_000);
            const answers: HandshakeSyncAnswer[] = [];
            let session: SessionInfo | undefined;
            const settle = () => {
              if (!session || answers.length < (session.handshakeSync?.length ?? 0)) return;
              clearTimeout(timer);
              resolve({ session, answers });
            };
            socket.on('connect_error', (err: Error & { data?: unknown }) => {
              clearTimeout(timer);
              resolve({ refused: err.data ?? { code: err.message } });
            });
            socket.on('session', (s: SessionInfo) => {
              session = s;
              settle();
            });
            socket.on('doc:sync', (a: HandshakeSyncAnswer) => {
              answers.push(a);
              settle();
            });
          });
          if ('refused' in outcome) {
            const code = checkReply({ error: outcome.refused });
            expect(['invalid_payload', 'too_large']).toContain(code);
            count(code);
            return;
          }
          // Accepted: no sync at all (undefined is left out of the JSON), or one of those keys only.
          const asked = value === undefined ? [] : DOC_NAMES.filter((d) => (value as Record<string, unknown>)[d] !== undefined);
          expect(outcome.session.handshakeSync).toEqual(asked);
          expect(outcome.answers.map((a) => a.doc).sort()).toEqual([...asked].sort());
          for (const a of outcome.answers) count(checkReply(a));
        } finally {
          socket.disconnect();
        }
      }),
      {
        numRuns: runs(80),
        seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31),
        // One in forty or so random values is well-formed throughout: run two every time, or
        // about one run in forty would see none and fail the check below.
        examples: [[{ main: base64(Y.encodeStateVector(new Map())) }], [{ main: base64(Y.encodeStateVector(new Map([[7, 3]]))), notes: 'AA==' }]],
      },
    );
    // Past the schema both ways: refusals, and answers to well-formed state vectors.
    expect(codes.get('invalid_payload')).toBeGreaterThan(0);
    expect(codes.get('ok')).toBeGreaterThan(0);
    expect(nodeErrors).toEqual([]);
  }, FUZZ_TIMEOUT);

  it('survives raw garbage frames on the Socket.IO wire: bad packets close only their own connection', async () => {
    const { node, iv, bystander } = await fuzzTarget();
    const token = await iv.invite('candidate', 'Raw');
    const rawSub = decodeJwt(token).sub!;
    const before = await readRecord(node, iv);
    const wsUrl = node.url.replace(/^http/, 'ws') + '/socket.io/?EIO=4&transport=websocket';

    const frame = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.uint8Array({ maxLength: 80 }),
      // Socket.IO EVENT packets with random bodies, reserved names, bad attachment counts, bad namespaces.
      fc.tuple(fc.constantFrom('42', '43', '45', '451-', '2', '40', '41', '44', '42/evil,', '4'), junk).map(([p, j]) => p + JSON.stringify(j)),
      fc
        .tuple(fc.constantFrom('connect', 'disconnect', 'disconnecting', 'error', 'newListener', 'doc:update', 'awareness'), junk)
        .map(([e, j]) => `42${JSON.stringify([e, j])}`),
      fc.tuple(fc.nat(5), fc.constantFrom('doc:update', 'awareness', 'doc:sync')).map(([n, e]) => `45${n}-["${e}",{"doc":"main","update":{"_placeholder":true,"num":${n + 3}}}]`),
    );

    /** Sends the frames on a fresh joined connection, then a probe with an ack id: either the node answers it, or it closed this connection. Never a hang. */
    const tryFrames = async (frames: Array<string | Uint8Array>): Promise<'answered' | 'closed'> => {
      const ws = new WebSocket(wsUrl);
      const messages: string[] = [];
      const gone = new Promise<'closed'>((resolve) => ws.once('close', () => resolve('closed')));
      ws.on('message', (m) => messages.push(String(m)));
      ws.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      ws.send(`40${JSON.stringify({ token })}`);
      // Joined the namespace (the session follows) before the garbage goes in.
      await waitFor(() => messages.some((m) => m.startsWith('40{')), 5000, 2);
      for (const f of frames) ws.send(f);
      ws.send('4299["fuzz:probe"]');
      const outcome = await Promise.race([gone, waitFor(() => messages.some((m) => m.startsWith('4399[')), 5000, 2).then(() => 'answered' as const)]);
      ws.terminate();
      return outcome;
    };

    let cases = 0;
    let closed = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 8 }), async (frames) => {
        cases += frames.length;
        if ((await tryFrames(frames)) === 'closed') closed++;
      }),
      { numRuns: runs(150) },
    );
    // Both outcomes happen. Most random cases hold at least one broken frame (an empty or random
    // string, stray binary, a reserved event name), which ends the connection, so too few keep it
    // open to count on: valid-but-refused packets are sent on purpose, and must leave it open.
    expect(closed).toBeGreaterThan(0);
    expect(cases).toBeGreaterThan(0);
    const refusedButValid = [['42["doc:update",{}]'], ['42["no:such:event",1]'], ['42["awareness",{"doc":"main","update":"x"}]', '42["chat:send",null]']];
    for (const frames of refusedButValid) expect(await tryFrames(frames), JSON.stringify(frames)).toBe('answered');
    // A well-formed namespace disconnect (with or without an ack id) leaves the connection with
    // nothing to serve: the node closes it, rather than leaving the probe behind it unanswered.
    for (const frames of [['41'], ['410'], ['4112']]) expect(await tryFrames(frames), JSON.stringify(frames)).toBe('closed');
    await checkAfterFuzz(node, iv, bystander, before, new Set([rawSub]), new Map());
  }, FUZZ_TIMEOUT);
});
