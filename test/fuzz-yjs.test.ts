/**
 * Fuzzing the binary payloads: random, truncated, bit-flipped and spliced
 * bytes as Yjs updates (both documents), state vectors and awareness updates,
 * derived from real edits and real cursors so the mutations reach deep into
 * the decoders. Properties: every case is answered with a success or a known
 * code (never `internal`); the text changes only by characters the fuzzer's
 * accepted updates carried (all `#`), the bystander's typing is intact, every
 * client converges; a refused awareness update leaves no cursor behind.
 */
import fc from 'fast-check';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { describe, expect, it } from 'vitest';
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness';
import * as Y from 'yjs';
import { type AcceptedUpdate, checkAfterFuzz, checkLoggedUpdates, checkReply, encodeBlocks, FUZZ_TIMEOUT, fuzzTarget, nodeErrors, readRecord, runs } from './fuzz-kit.js';
import { connectClient, connectSocket, nextEvent, waitFor, type TestInterview, type TestNode } from './helpers.js';

/**
 * A bare socket (no provider: a provider's periodic resync would send updates
 * of its own, which the fuzzer could not account for), its session, and the
 * node's copy of `main` as the fuzzer starts.
 */
async function fuzzer(node: TestNode, iv: TestInterview, role: 'candidate' | 'observer', name: string) {
  const socket = connectSocket(node.url, await iv.invite(role, name));
  const session = await nextEvent<any>(socket, 'session');
  const reply = (await socket.emitWithAck('doc:sync', { doc: 'main', stateVector: new Uint8Array([0]) })) as { update: Uint8Array };
  const doc = new Y.Doc();
  Y.applyUpdate(doc, new Uint8Array(reply.update));
  return { socket, sub: session.you.sub as string, doc };
}

/** Chained inserts of `#` into the file, from a copy of a real client's document. */
function updatePool(base: Y.Doc, n: number, seed: number): Uint8Array[] {
  const scratch = new Y.Doc();
  Y.applyUpdate(scratch, Y.encodeStateAsUpdate(base));
  const files = scratch.getMap<Y.Text>('files');
  const path = [...files.keys()].sort()[0]!;
  const out: Uint8Array[] = [];
  let r = seed;
  for (let i = 0; i < n; i++) {
    const sv = Y.encodeStateVector(scratch);
    const text = files.get(path)!;
    r = (r * 1103515245 + 12345) % 2 ** 31;
    text.insert(r % (text.length + 1), '#'.repeat(1 + (r % 5)));
    out.push(Y.encodeStateAsUpdate(scratch, sv));
  }
  // The whole state too: large, many structs, a delete set.
  out.push(Y.encodeStateAsUpdate(scratch));
  scratch.destroy();
  return [...out, ...parkedShapes(out.slice(0, Math.min(n, 10)))];
}

/**
 * Shapes Yjs parks for good, from the pool's own inserts (the node refuses
 * them; mutations of them probe the checks around): one client's structs in
 * two blocks, and a second client's insert that the first's refers to while
 * it refers back.
 */
function parkedShapes(inserts: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i + 1 < inserts.length; i += 2) {
    const [a, b] = [inserts[i]!, inserts[i + 1]!].map((u) => Y.decodeUpdate(u).structs[0] as Y.Item);
    out.push(encodeBlocks([a!.id.client, a!.id.clock, [a!]], [b!.id.client, b!.id.clock, [b!]]));
    const other = 424242 + i;
    const x = new Y.Item(a!.id, null, a!.origin, null, Y.createID(other, 0), null, null, a!.content);
    const z = new Y.Item(Y.createID(other, 0), null, a!.id, null, a!.rightOrigin, null, null, new Y.ContentString('#'));
    out.push(encodeBlocks([x.id.client, x.id.clock, [x]], [other, 0, [z]]));
  }
  return out;
}

function notesPool(n: number): Uint8Array[] {
  const scratch = new Y.Doc();
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const sv = Y.encodeStateVector(scratch);
    scratch.getText('notes').insert(0, `#${i}`);
    out.push(Y.encodeStateAsUpdate(scratch, sv));
  }
  return out;
}

function awarenessPool(n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const doc = new Y.Doc();
    const a = new Awareness(doc);
    const at = (clock: number) => ({ type: null, tname: 'main.py', item: { client: doc.clientID, clock }, assoc: 0 });
    a.setLocalState({ user: { name: `fuzz-${i}`, color: '#123456' }, cursor: { file: 'main.py', selections: [{ anchor: at(i), head: at(i + 1) }] } });
    out.push(encodeAwarenessUpdate(a, [doc.clientID]));
    a.destroy();
    doc.destroy();
  }
  return out;
}

/** Mutations of a pool of valid payloads, plus plain random bytes and varint bombs. */
function mutated(pool: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const pick = fc.nat(pool.length - 1).map((i) => pool[i]!);
  return fc.oneof(
    pick,
    fc.tuple(pick, fc.nat()).map(([u, cut]) => u.slice(0, cut % (u.length + 1))),
    fc.tuple(pick, fc.nat()).map(([u, cut]) => u.slice(cut % (u.length + 1))),
    fc.tuple(pick, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 })).map(([u, flips]) => {
      const copy = u.slice();
      for (const [at, v] of flips) if (copy.length > 0) copy[at % copy.length] = v;
      return copy;
    }),
    fc.tuple(pick, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([u, at, extra]) => {
      const i = at % (u.length + 1);
      return new Uint8Array([...u.slice(0, i), ...extra, ...u.slice(i)]);
    }),
    fc.tuple(pick, pick).map(([a, b]) => new Uint8Array([...a, ...b])),
    fc.uint8Array({ maxLength: 200 }),
    // Huge counts and lengths in a few bytes.
    fc.array(fc.constantFrom(0xff, 0x8f, 0x7f, 0x00, 0x01), { minLength: 1, maxLength: 24 }).map((b) => new Uint8Array(b)),
  );
}

/** The client ids an awareness update names, or null if it does not fully decode. */
function awarenessIds(update: Uint8Array): number[] | null {
  try {
    const d = decoding.createDecoder(update);
    const n = decoding.readVarUint(d);
    const ids: number[] = [];
    for (let i = 0; i < n; i++) {
      ids.push(decoding.readVarUint(d));
      decoding.readVarUint(d);
      JSON.parse(decoding.readVarString(d));
    }
    return ids;
  } catch {
    return null;
  }
}

describe('fuzzing Yjs and awareness payloads', () => {
  it('random, truncated and corrupted updates and state vectors: codes, no crash, accepted ones logged, all converge', async () => {
    const { node, iv, bystander } = await fuzzTarget();
    const cand = await fuzzer(node, iv, 'candidate', 'Fuzz candidate');
    const obs = await fuzzer(node, iv, 'observer', 'Fuzz observer');
    const fuzzSubs = new Set([cand.sub, obs.sub]);
    const before = await readRecord(node, iv);
    const mainPool = updatePool(cand.doc, 40, 7);
    const notes = notesPool(20);
    const svPool = [Y.encodeStateVector(cand.doc), Y.encodeStateVector(new Y.Doc()), ...mainPool.slice(0, 5)];

    const kase = fc.oneof(
      { weight: 4, arbitrary: mutated(mainPool).map((update) => ({ who: 'cand' as const, event: 'doc:update', payload: { doc: 'main', update } })) },
      { weight: 1, arbitrary: mutated(notes).map((update) => ({ who: 'obs' as const, event: 'doc:update', payload: { doc: 'notes', update } })) },
      {
        weight: 2,
        arbitrary: fc
          .tuple(mutated(svPool), fc.constantFrom('main', 'notes'), fc.constantFrom<'cand' | 'obs'>('cand', 'obs'))
          .map(([stateVector, doc, who]) => ({ who, event: 'doc:sync', payload: { doc, stateVector } })),
      },
    );
    const accepted: AcceptedUpdate[] = [];
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(kase, { minLength: 40, maxLength: 100 }), async (batch) => {
        const sockets = { cand: cand.socket, obs: obs.socket };
        const replies = await Promise.all(
          batch.map((c) => (sockets[c.who] as any).timeout(10_000).emitWithAck(c.event, c.payload) as Promise<unknown>),
        );
        replies.forEach((reply, i) => {
          const code = checkReply(reply);
          if (batch[i]!.event !== 'doc:update') return;
          if (code === 'ok') accepted.push(batch[i]!.payload as AcceptedUpdate);
          else refused++;
        });
      }),
      { numRuns: runs(40) },
    );
    if (process.env.DUET_REPORT) console.log(`yjs fuzz: ${accepted.length} updates accepted, ${refused} refused`);
    expect(accepted.length).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);

    await checkAfterFuzzWithHashes(node, iv, bystander, before, fuzzSubs, accepted);
  }, FUZZ_TIMEOUT);

  it('an update over part of a struct the node has, a GC: logged as the rest, and the log still loads (found by fuzzing)', async () => {
    const { node, iv, bystander } = await fuzzTarget();
    const cand = await fuzzer(node, iv, 'candidate', 'Fuzz candidate');
    const before = await readRecord(node, iv);
    // A two-character insert, and a GC struct over its first clock (an update may carry GC structs).
    const scratch = new Y.Doc();
    Y.applyUpdate(scratch, Y.encodeStateAsUpdate(cand.doc));
    const known = Y.encodeStateVector(scratch);
    const files = scratch.getMap<Y.Text>('files');
    files.get([...files.keys()].sort()[0]!)!.insert(0, '##');
    const insert = Y.encodeStateAsUpdate(scratch, known);
    const gc = encodeBlocks([scratch.clientID, 0, [new Y.GC(Y.createID(scratch.clientID, 0), 1)]]);
    const accepted: AcceptedUpdate[] = [];
    for (const update of [gc, insert]) {
      expect(await cand.socket.emitWithAck('doc:update', { doc: 'main', update })).toEqual({ ok: true });
      accepted.push({ doc: 'main', update });
    }
    // Logged as the rest (the insert's second character, its origin the GC), not as sent.
    const logged = (await readRecord(node, iv)).events.filter((ev) => ev.type === 'doc' && ev.actor.sub === cand.sub);
    expect(logged).toHaveLength(2);
    expect(String(logged[0]!.data.update)).toBe(Buffer.from(gc).toString('base64'));
    const rest = Y.decodeUpdate(Buffer.from(String(logged[1]!.data.update), 'base64')).structs;
    expect(rest.map((st) => [st.id.client, st.id.clock, st.length])).toEqual([[scratch.clientID, 1, 1]]);
    await checkAfterFuzzWithHashes(node, iv, bystander, before, new Set([cand.sub]), accepted);
  }, FUZZ_TIMEOUT);

  it('random and corrupted awareness updates: codes, and a refused one leaves no cursor behind', async () => {
    const { node, iv, bystander } = await fuzzTarget();
    const cand = await fuzzer(node, iv, 'candidate', 'Fuzz candidate');
    const fuzzSubs = new Set([cand.sub]);
    const before = await readRecord(node, iv);
    const pool = awarenessPool(20);
    const acceptedIds = new Set<number>();
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(mutated(pool), fc.constantFrom('main', 'notes')), { minLength: 40, maxLength: 100 }), async (batch) => {
        const replies = await Promise.all(
          batch.map(([update, doc]) => cand.socket.timeout(10_000).emitWithAck('awareness', { doc: doc as 'main', update })),
        );
        replies.forEach((reply, i) => {
          const code = checkReply(reply);
          if (code === 'ok') for (const id of awarenessIds(batch[i]![0]) ?? []) acceptedIds.add(id);
          else refused++;
        });
      }),
      { numRuns: runs(15) },
    );
    expect(refused).toBeGreaterThan(0);
    expect(acceptedIds.size).toBeGreaterThan(0);

    // A good entry for a fresh client id followed by a broken one: refused as a whole, the good one not kept.
    let nextId = 900_000_000;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 12 }), async (tail) => {
        const e = encoding.createEncoder();
        encoding.writeVarUint(e, 2);
        encoding.writeVarUint(e, nextId++);
        encoding.writeVarUint(e, 1);
        encoding.writeVarString(e, JSON.stringify({ user: { name: 'half' } }));
        encoding.writeUint8Array(e, new Uint8Array([1, 1, 0x7b, ...tail])); // id 1, clock 1, then "{" + junk: never valid JSON
        const reply = await cand.socket.timeout(10_000).emitWithAck('awareness', { doc: 'main', update: encoding.toUint8Array(e) });
        expect(checkReply(reply)).toBe('invalid_payload');
      }),
      { numRuns: runs(100) },
    );

    // A newcomer is sent every cursor the node holds: only accepted ones (and the bystander's own) may be there.
    const checker = await connectClient(node.url, await iv.invite('interviewer', 'Checker'), ['main', 'notes']);
    await new Promise((r) => setTimeout(r, 200));
    const held = [...checker.provider.awareness('main').getStates().keys()].filter(
      (id) => id !== checker.provider.doc('main').clientID && id !== bystander.client.provider.doc('main').clientID,
    );
    for (const id of held) expect(acceptedIds.has(id), `cursor ${id} from a refused update`).toBe(true);
    await checkAfterFuzz(node, iv, bystander, before, fuzzSubs, new Map());
  }, FUZZ_TIMEOUT);
});

/**
 * checkAfterFuzz for a run whose accepted updates changed the text. Mostly
 * they insert the pool's `#`s, but a byte flip can make a valid update that
 * inserts another character or deletes some of the text (a candidate may), so
 * the content is not predicted: the bystander, a fresh joiner and the log must
 * agree on it, and the log must hold exactly the accepted updates that changed something.
 */
async function checkAfterFuzzWithHashes(
  node: Parameters<typeof checkAfterFuzz>[0],
  iv: Parameters<typeof checkAfterFuzz>[1],
  bystander: Parameters<typeof checkAfterFuzz>[2],
  before: Parameters<typeof checkAfterFuzz>[3],
  fuzzSubs: Set<string>,
  acceptedUpdates: AcceptedUpdate[],
): Promise<void> {
  await bystander.stop();
  expect(nodeErrors).toEqual([]);
  expect(bystander.errors).toEqual([]);
  expect(bystander.disconnects).toBe(0);
  const after = await readRecord(node, iv);
  const [path] = Object.keys(before.files);
  expect(Object.keys(after.files)).toEqual([path]);
  // The bystander's typing is in the log too (an accepted update may have deleted some of it since).
  const bystanderSub = bystander.client.provider.session?.you.sub;
  expect(after.events.slice(before.events.length).some((e) => e.type === 'doc' && e.actor.sub === bystanderSub)).toBe(true);
  const fresh = await connectClient(node.url, await iv.invite('observer', 'Checker'), ['main', 'notes']);
  await waitFor(() => fresh.text() === bystander.client.text(), 10_000).catch(() => {});
  expect({ fresh: fresh.text(), rest: after.files[path!] }).toEqual({ fresh: bystander.client.text(), rest: bystander.client.text() });
  expect(after.events.slice(0, before.events.length)).toEqual(before.events);
  checkLoggedUpdates(after.events, fuzzSubs, acceptedUpdates);
  // Nothing but the documents' own root types ever reached the log.
  const replay = new Y.Doc();
  for (const e of after.events) if (e.type === 'doc' && e.data.doc === 'main') Y.applyUpdate(replay, Buffer.from(String(e.data.update), 'base64'));
  expect([...replay.share.keys()]).toEqual(['files']);
}
