/**
 * One contract, two stores: every test here runs against SQLite and against
 * PostgreSQL (a fresh schema per test, dropped after).
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DuetError } from '../shared/errors.js';
import type { Actor } from '../shared/protocol.js';
import type { NewEvent, Store } from '../server/store/store.js';
import { STORE_BACKENDS } from './fixtures/store-backends.js';

const backends = STORE_BACKENDS;

const ada: Actor = { sub: 'ada', name: 'Ada', role: 'interviewer' };
const cy: Actor = { sub: 'cy', name: 'Cy', role: 'candidate' };
let ids = 0;
const newId = () => `iv_${Date.now().toString(36)}_${ids++}`;
const at = (ms = 0) => new Date(Date.UTC(2026, 10, 28, 12, 0, 0, ms)).toISOString();

function docEvent(bytes: number[], actor = cy): NewEvent {
  return { type: 'doc', at: at(), actor, doc: 'main', bin: new Uint8Array(bytes), data: { doc: 'main' } };
}
function chat(text: string, channel: 'room' | 'panel' = 'room', actor = ada): NewEvent {
  return { type: 'chat', at: at(), actor, data: { channel, text } };
}
async function interview(store: Store, seed: NewEvent[] = [docEvent([1, 2, 3], ada)], createdBy = ada) {
  return store.createInterview({ id: newId(), title: 'T', language: 'typescript', createdAt: at(), createdBy }, seed);
}

describe.each(backends)('store contract: $name', (backend) => {
  it('creates an interview with its seed as the first events, and finds it', async () => {
    const { store } = await backend.open();
    const iv = await interview(store);
    expect(iv).toMatchObject({ title: 'T', language: 'typescript', status: 'open', endedAt: null, createdBy: { sub: 'ada', name: 'Ada' } });
    expect(await store.getInterview(iv.id)).toEqual(iv);
    expect(await store.getInterview('nope')).toBeUndefined();
    const events = await store.readEvents(iv.id, {});
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ seq: 1, type: 'doc', doc: 'main', actor: ada, data: { doc: 'main' } });
    expect([...events[0]!.bin!]).toEqual([1, 2, 3]);
  });

  it('lists newest first, filtered by creator', async () => {
    const { store } = await backend.open();
    const a = await store.createInterview({ id: newId(), title: 'A', language: 'python', createdAt: at(1), createdBy: ada }, []);
    const b = await store.createInterview({ id: newId(), title: 'B', language: 'go', createdAt: at(2), createdBy: cy }, []);
    expect(await ids({})).toEqual([b.id, a.id]);
    expect(await ids({ createdBy: 'ada' })).toEqual([a.id]);

    async function ids(filter: { createdBy?: string }) {
      const { interviews, next } = await store.listInterviews({ ...filter, limit: 10 });
      expect(next).toBeNull();
      return interviews.map((i) => i.id);
    }
  });

  it('lists interviews made in one millisecond in the order they were made, a page at a time', async () => {
    const { store } = await backend.open();
    // Ids in the opposite order to creation: the order must not come from them.
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      const iv = await store.createInterview({ id: `iv_${9 - i}_${newId()}`, title: `T${i}`, language: 'python', createdAt: at(7), createdBy: i === 2 ? cy : ada }, []);
      made.unshift(iv.id);
    }
    expect(await pages({ limit: 2 })).toEqual([made.slice(0, 2), made.slice(2, 4), made.slice(4)]);
    expect(await pages({ limit: 5 })).toEqual([made]);
    expect(await pages({ limit: 2, createdBy: 'ada' })).toEqual([
      [made[0], made[1]],
      [made[3], made[4]],
    ]);
    expect(await pages({ limit: 3, createdBy: 'nobody' })).toEqual([[]]);
    // One made while a reader pages comes first on a new read, and moves nothing on the pages after the reader's cursor.
    const first = await store.listInterviews({ limit: 2 });
    const newer = await store.createInterview({ id: newId(), title: 'N', language: 'go', createdAt: at(7), createdBy: ada }, []);
    expect((await store.listInterviews({ limit: 2, before: first.next! })).interviews.map((i) => i.id)).toEqual(made.slice(2, 4));
    expect((await store.listInterviews({ limit: 1 })).interviews.map((i) => i.id)).toEqual([newer.id]);

    async function pages(filter: { limit: number; createdBy?: string }) {
      const out: string[][] = [];
      let before: number | undefined;
      do {
        const page = await store.listInterviews({ ...filter, ...(before === undefined ? {} : { before }) });
        out.push(page.interviews.map((i) => i.id));
        before = page.next ?? undefined;
      } while (before !== undefined && out.length < 10);
      return out;
    }
  });

  it('finds interviews by a part of their title, in any case, a page at a time', async () => {
    const { store } = await backend.open();
    const titles = ['Backend: Ada L.', 'Frontend: Grace H.', 'BACKEND pairing', 'Édith Piaf: backend', '100% done', '100 percent done', 'snake_case', 'snake case', 'Paths like C:\\temp'];
    for (const title of titles) await store.createInterview({ id: newId(), title, language: 'python', createdAt: at(3), createdBy: ada }, []);
    const find = async (titleContains: string, limit = 10, createdBy?: string) => {
      const { interviews, next } = await store.listInterviews({ titleContains, limit, ...(createdBy ? { createdBy } : {}) });
      return { titles: interviews.map((i) => i.title), next };
    };
    expect(await find('backend')).toEqual({ titles: ['Édith Piaf: backend', 'BACKEND pairing', 'Backend: Ada L.'], next: null });
    // Letters beyond ASCII, either case (SQLite's own LIKE and lower() fold ASCII only).
    expect((await find('ÉDITH')).titles).toEqual(['Édith Piaf: backend']);
    expect((await find('édith')).titles).toEqual(['Édith Piaf: backend']);
    // LIKE's wildcards and its escape are text like any other.
    expect((await find('0% d')).titles).toEqual(['100% done']);
    expect((await find('%')).titles).toEqual(['100% done']);
    expect((await find('e_c')).titles).toEqual(['snake_case']);
    expect((await find('c:\\t')).titles).toEqual(['Paths like C:\\temp']);
    // Pages of a search follow the same cursor.
    const first = await find('backend', 2);
    expect(first.titles).toEqual(['Édith Piaf: backend', 'BACKEND pairing']);
    const rest = await store.listInterviews({ titleContains: 'backend', limit: 2, before: first.next! });
    expect(rest).toMatchObject({ interviews: [{ title: 'Backend: Ada L.' }], next: null });
    expect((await find('backend', 10, 'cy')).titles).toEqual([]);
  });

  it('upgrading numbers the interviews already made in the order of their creation times, and new ones after them', async () => {
    const { store: old, sibling } = await backend.open({ migrateUpTo: '0006_node_processes' });
    // Made out of order, two in one millisecond (those take the order of their ids).
    const b = await old.createInterview({ id: 'iv_old_b', title: 'B', language: 'python', createdAt: at(20), createdBy: ada }, []);
    const a = await old.createInterview({ id: 'iv_old_z', title: 'A', language: 'python', createdAt: at(10), createdBy: cy }, []);
    const c2 = await old.createInterview({ id: 'iv_old_c2', title: 'C2', language: 'python', createdAt: at(30), createdBy: ada }, []);
    const c1 = await old.createInterview({ id: 'iv_old_c1', title: 'C1', language: 'python', createdAt: at(30), createdBy: ada }, []);
    const store = await sibling();
    // Its clock behind the others': still listed as the newest, since it was made last.
    const d = await store.createInterview({ id: newId(), title: 'D', language: 'go', createdAt: at(0), createdBy: ada }, []);
    const listed = await store.listInterviews({ limit: 10 });
    expect(listed.interviews.map((i) => i.id)).toEqual([d.id, c2.id, c1.id, b.id, a.id]);
    expect(listed.next).toBeNull();
    expect((await store.listInterviews({ limit: 2, createdBy: 'ada' })).interviews.map((i) => i.title)).toEqual(['D', 'C2']);
  });

  it('appends with gapless seqs, binary intact, and reads pages by after/limit/type/doc', async () => {
    const { store } = await backend.open();
    const iv = await interview(store);
    const r = await store.append(iv.id, [docEvent([0, 255, 7]), chat('hi'), docEvent([9])], { requireOpen: true });
    expect(r.events.map((e) => e.seq)).toEqual([2, 3, 4]);
    expect(r.interview.id).toBe(iv.id);
    expect((await store.readEvents(iv.id, { after: 1, limit: 2 })).map((e) => e.seq)).toEqual([2, 3]);
    expect((await store.readEvents(iv.id, { type: 'chat' })).map((e) => e.data)).toEqual([{ channel: 'room', text: 'hi' }]);
    const docs = await store.readEvents(iv.id, { doc: 'main', after: 1 });
    expect(docs.map((e) => [...e.bin!])).toEqual([[0, 255, 7], [9]]);
    expect(await store.readEvents(iv.id, { after: 4 })).toEqual([]);
    // Only the documents' events with their data: the rest keep seq, type and actor.
    const tail = await store.readEvents(iv.id, { after: 1, docDataOnly: true });
    expect(tail.map((e) => [e.seq, e.type, e.data, e.bin && [...e.bin]])).toEqual([
      [2, 'doc', { doc: 'main' }, [0, 255, 7]],
      [3, 'chat', {}, undefined],
      [4, 'doc', { doc: 'main' }, [9]],
    ]);
    expect(tail[1]!.actor).toEqual(ada);
  });

  it('cuts a page of large events by size, never below one event, and says whether the log goes on', async () => {
    const { store } = await backend.open();
    const iv = await interview(store);
    // Sizes: the seed's 3 bytes of update plus its data, then chats of about 1,000, 2,000 and 3,000 characters.
    await store.append(iv.id, [chat('a'.repeat(1000)), chat('b'.repeat(2000)), chat('c'.repeat(3000)), docEvent([1, 2])], { requireOpen: true });
    const seqs = async (after: number, limit: number, maxBytes: number) => {
      const { events, more } = await store.readEventPage(iv.id, { after, limit, maxBytes });
      return { seqs: events.map((e) => e.seq), more };
    };
    expect(await seqs(0, 10, 1_000_000)).toEqual({ seqs: [1, 2, 3, 4, 5], more: false });
    expect(await seqs(0, 3, 1_000_000)).toEqual({ seqs: [1, 2, 3], more: true });
    expect(await seqs(0, 10, 3200)).toEqual({ seqs: [1, 2, 3], more: true });
    // The first event always comes, however large: a page is never empty while the log goes on.
    expect(await seqs(3, 10, 100)).toEqual({ seqs: [4], more: true });
    expect(await seqs(4, 10, 100)).toEqual({ seqs: [5], more: false });
    expect(await seqs(5, 10, 100)).toEqual({ seqs: [], more: false });
  });

  it('keeps seqs gapless and in commit order under concurrent appends (from two nodes when shared)', async () => {
    const { store, sibling } = await backend.open();
    const other = backend.shared ? await sibling() : store;
    const iv = await interview(store);
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? store : other).append(iv.id, [docEvent([i]), docEvent([i, i])], { requireOpen: true }),
      ),
    );
    const seqs = (await store.readEvents(iv.id, {})).map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: 81 }, (_, i) => i + 1));
  });

  it('commits a group over several interviews with every byte and character intact', async () => {
    const { store } = await backend.open();
    const [a, b] = [await interview(store), await interview(store)];
    // A name from outside with a lone surrogate is stored as UTF-8 stores it
    // (U+FFFD) on both databases; in an event's data it, and a NUL, survive as JSON's escapes.
    const odd: Actor = { sub: 'sub "q" \\ é', name: 'Zoë \ud800 🎉', role: 'candidate' };
    const timed = (ms: number, e: NewEvent): NewEvent => ({ ...e, at: at(ms) });
    const group = [
      {
        interviewId: a.id,
        events: [timed(1, docEvent([0, 255, 92, 120, 0])), timed(2, chat('a "quote" \\ \u0000 \ud83d\ude00 \udc00 x', 'room', odd)), timed(3, docEvent([]))],
      },
      // Refused between the two: its bytes must not shift the next one's.
      { interviewId: `${a.id}_missing`, events: [timed(9, docEvent([7, 7, 7]))] },
      { interviewId: b.id, events: [timed(4, chat('', 'panel')), timed(5, docEvent(Array.from({ length: 3000 }, (_, i) => i % 256), odd))] },
    ];
    const results = await store.appendMany(group, { requireOpen: true });
    expect(results.map((r) => ('events' in r ? r.events.map((e) => e.seq) : r.error.code))).toEqual([[2, 3, 4], 'not_found', [2, 3]]);
    const stored = { sub: odd.sub, name: 'Zoë \ufffd 🎉', role: odd.role };
    const [logA, logB] = [await store.readEvents(a.id, { after: 1 }), await store.readEvents(b.id, { after: 1 })];
    expect(logA.map((e) => [e.type, e.at, e.doc, e.bin && [...e.bin], e.data])).toEqual([
      ['doc', at(1), 'main', [0, 255, 92, 120, 0], { doc: 'main' }],
      ['chat', at(2), undefined, undefined, { channel: 'room', text: 'a "quote" \\ \u0000 \ud83d\ude00 \udc00 x' }],
      ['doc', at(3), 'main', [], { doc: 'main' }],
    ]);
    expect(logA[1]!.actor).toEqual(stored);
    expect(logB.map((e) => [e.type, e.at, e.doc, e.bin?.length, e.actor])).toEqual([
      ['chat', at(4), undefined, undefined, ada],
      ['doc', at(5), 'main', 3000, stored],
    ]);
    expect([...logB[1]!.bin!]).toEqual(Array.from({ length: 3000 }, (_, i) => i % 256));
  });

  it('refuses appends to an ended interview and to a missing one, changing nothing', async () => {
    const { store } = await backend.open();
    const iv = await interview(store);
    const ended = await store.append(iv.id, [{ type: 'end', at: at(), actor: ada, data: {} }], {
      requireOpen: true,
      patch: { status: 'ended', endedAt: at(5) },
    });
    expect(ended.interview).toMatchObject({ status: 'ended', endedAt: at(5) });
    await expect(store.append(iv.id, [chat('late')], { requireOpen: true })).rejects.toMatchObject({ code: 'interview_ended' });
    await expect(store.append('missing', [chat('x')], { requireOpen: true })).rejects.toBeInstanceOf(DuetError);
    await expect(store.append('missing', [chat('x')], { requireOpen: true })).rejects.toMatchObject({ code: 'not_found' });
    expect((await store.readEvents(iv.id, {})).map((e) => e.type)).toEqual(['doc', 'end']);
    // Without requireOpen (e.g. a leave after the end) it still appends.
    await store.append(iv.id, [{ type: 'leave', at: at(), actor: cy, data: {} }], { requireOpen: false });
    expect((await store.readEvents(iv.id, {})).map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('applies a language patch in the same transaction', async () => {
    const { store } = await backend.open();
    const iv = await interview(store);
    const r = await store.append(iv.id, [{ type: 'language', at: at(), actor: cy, data: { language: 'python' } }], {
      requireOpen: true,
      patch: { language: 'python' },
    });
    expect(r.interview.language).toBe('python');
    expect((await store.getInterview(iv.id))!.language).toBe('python');
  });

  it("gives every copy of an interview the seq of the log it holds, so a later copy is told from an earlier one", async () => {
    const { store } = await backend.open();
    const iv = await interview(store);
    expect(iv.seq).toBe(1);
    const lang = await store.append(iv.id, [chat('hi'), { type: 'language', at: at(), actor: cy, data: { language: 'go' } }], {
      requireOpen: true,
      patch: { language: 'go' },
    });
    expect(lang.interview).toMatchObject({ language: 'go', seq: 3 });
    // Edits written in a group move it too: a copy read after them holds them.
    const [grouped] = await store.appendMany([{ interviewId: iv.id, events: [docEvent([4]), docEvent([5])] }], { requireOpen: true });
    expect(grouped).toMatchObject({ interview: { seq: 5 } });
    expect(await store.getInterview(iv.id)).toMatchObject({ language: 'go', seq: 5 });
    expect((await store.listInterviews({ limit: 10 })).interviews.find((i) => i.id === iv.id)?.seq).toBe(5);
  });

  it("finds an interview's newest event of a type, and nothing of a type it never had", async () => {
    const { store } = await backend.open();
    const iv = await interview(store);
    const other = await interview(store);
    await store.append(iv.id, [chat('one'), docEvent([1]), chat('two'), docEvent([2])], { requireOpen: true });
    await store.append(other.id, [chat('not this one')], { requireOpen: true });
    expect(await store.latestEvent(iv.id, 'chat')).toMatchObject({ seq: 4, data: { text: 'two' } });
    expect(await store.latestEvent(iv.id, 'run')).toBeUndefined();
    expect(await store.latestEvent('missing', 'chat')).toBeUndefined();
  });

  it('returns recent chat oldest first, by channel, bounded', async () => {
    const { store } = await backend.open();
    const iv = await interview(store);
    await store.append(iv.id, [chat('r1'), chat('p1', 'panel'), chat('r2'), docEvent([1]), chat('r3')], { requireOpen: true });
    expect((await store.recentChat(iv.id, ['room'], 2)).map((e) => e.data.text)).toEqual(['r2', 'r3']);
    expect((await store.recentChat(iv.id, ['room', 'panel'], 10)).map((e) => e.data.text)).toEqual(['r1', 'p1', 'r2', 'r3']);
    expect(await store.recentChat(iv.id, [], 10)).toEqual([]);
    // The newest messages are panel chat: the room's latest are further back.
    await store.append(iv.id, [chat('p2', 'panel'), chat('p3', 'panel'), chat('p4', 'panel')], { requireOpen: true });
    expect((await store.recentChat(iv.id, ['room'], 2)).map((e) => e.data.text)).toEqual(['r2', 'r3']);
    expect((await store.recentChat(iv.id, ['room'], 1)).map((e) => e.data.text)).toEqual(['r3']);
    expect((await store.recentChat(iv.id, ['panel'], 3)).map((e) => e.data.text)).toEqual(['p2', 'p3', 'p4']);
    expect(await store.recentChat(iv.id, ['room'], 0)).toEqual([]);
  });

  it("gives a Yjs client id to its first claimant, per document, and forgets it with the interview", async () => {
    const { store } = await backend.open();
    const iv = await interview(store);
    const top = 4_294_967_295; // Yjs client ids are unsigned 32-bit
    expect(await store.editorIdOwner(iv.id, 'main', top)).toBeUndefined();
    const claims = await Promise.all([store.claimEditorId(iv.id, 'main', top, 'ada', at()), store.claimEditorId(iv.id, 'main', top, 'cy', at())]);
    expect(claims[0]).toBe(claims[1]);
    const first = claims[0];
    expect(await store.claimEditorId(iv.id, 'main', top, first === 'ada' ? 'cy' : 'ada', at())).toBe(first);
    expect(await store.editorIdOwner(iv.id, 'main', top)).toBe(first);
    // Per document.
    expect(await store.claimEditorId(iv.id, 'notes', top, 'obi', at())).toBe('obi');
    expect(await store.deleteInterview(iv.id)).toBe(true);
    expect(await store.editorIdOwner(iv.id, 'main', top)).toBeUndefined();
    await expect(store.claimEditorId(iv.id, 'main', 7, 'ada', at())).rejects.toMatchObject({ code: 'not_found' });
  });

  it('keeps snapshots per document, newest wins, saving twice is harmless, and moves one to a later seq', async () => {
    const { store } = await backend.open();
    const iv = await interview(store);
    expect(await store.latestSnapshot(iv.id, 'main')).toBeUndefined();
    await store.saveSnapshot(iv.id, { doc: 'main', seq: 3, state: new Uint8Array([3]) }, at());
    await store.saveSnapshot(iv.id, { doc: 'main', seq: 9, state: new Uint8Array([9, 0]), stateVector: new Uint8Array([1, 7, 9]) }, at());
    await store.saveSnapshot(iv.id, { doc: 'main', seq: 9, state: new Uint8Array([9, 0]), stateVector: new Uint8Array([1, 7, 9]) }, at());
    await store.saveSnapshot(iv.id, { doc: 'notes', seq: 5, state: new Uint8Array([5]) }, at());
    const main = await store.latestSnapshot(iv.id, 'main');
    expect(main?.seq).toBe(9);
    expect([...main!.state]).toEqual([9, 0]);
    expect([...main!.stateVector!]).toEqual([1, 7, 9]);
    const notes = await store.latestSnapshot(iv.id, 'notes');
    expect(notes?.seq).toBe(5);
    // Saved without one (as snapshots were before state vectors were kept).
    expect(notes?.stateVector).toBeUndefined();
    // Marked as of a later seq, as it is.
    expect(await store.moveSnapshot(iv.id, 'notes', 5, 12, at())).toBe(true);
    expect(await store.latestSnapshot(iv.id, 'notes')).toMatchObject({ seq: 12, state: new Uint8Array([5]) });
    // Another node stored one at that seq meanwhile (and a slow one an older one after it): that one holds.
    await store.saveSnapshot(iv.id, { doc: 'main', seq: 20, state: new Uint8Array([20]) }, at());
    await store.saveSnapshot(iv.id, { doc: 'main', seq: 15, state: new Uint8Array([15]) }, at());
    expect(await store.moveSnapshot(iv.id, 'main', 15, 20, at())).toBe(true);
    expect(await store.latestSnapshot(iv.id, 'main')).toMatchObject({ seq: 20, state: new Uint8Array([20]) });
    await store.saveSnapshot(iv.id, { doc: 'main', seq: 21, state: new Uint8Array([21]) }, at());
    expect(await store.moveSnapshot(iv.id, 'main', 21, 30, at())).toBe(true);
    // A node that still believes the row is at 21 moves it again: the row at 30 is the same state, and goes on.
    expect(await store.moveSnapshot(iv.id, 'main', 21, 40, at())).toBe(true);
    expect(await store.latestSnapshot(iv.id, 'main')).toMatchObject({ seq: 40, state: new Uint8Array([21]) });
    // Nothing that recent (pruned by another node's snapshot, or a save that failed): nothing moves, nothing goes.
    const other = await interview(store);
    expect(await store.moveSnapshot(other.id, 'main', 10, 20, at())).toBe(false);
    await store.saveSnapshot(other.id, { doc: 'main', seq: 3, state: new Uint8Array([3]) }, at());
    expect(await store.moveSnapshot(other.id, 'main', 10, 20, at())).toBe(false);
    expect(await store.latestSnapshot(other.id, 'main')).toMatchObject({ seq: 3, state: new Uint8Array([3]) });
  });

  it('upserts participants once per sub, in first-seen order', async () => {
    const { store } = await backend.open();
    const iv = await interview(store);
    const [cyFirst, adaFirst] = [at(1), at(2)];
    await store.upsertParticipant(iv.id, cy, cyFirst);
    await store.upsertParticipant(iv.id, ada, adaFirst);
    // A later join keeps when they first joined (the interview's clock starts from it).
    await store.upsertParticipant(iv.id, { ...cy, name: 'Cyril' }, at(3));
    expect(await store.listParticipants(iv.id)).toEqual([
      { ...cy, name: 'Cyril', firstSeen: cyFirst },
      { ...ada, firstSeen: adaFirst },
    ]);
  });

  it("keeps nodes' heartbeats on its own clock: a stale node is claimed once, fenced, and found by the joins it logged", async () => {
    const { store } = await backend.open();
    const [a, b, c, d] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // Generous margins: each step is a round trip or two on a busy machine.
    const DEAD = 1000;
    const FRESH = 60_000;
    const ids = (nodes: Array<{ id: string }>) => nodes.map((n) => n.id).sort();
    await store.registerNode(a, DEAD);
    const bornB = Date.now();
    await store.registerNode(b, DEAD);
    const bSeen = Date.now();
    await store.registerNode(d, 60_000);
    expect(await store.heartbeatNode(a)).toBe(true);
    expect(await store.claimDeadNodes(a, DEAD, FRESH)).toEqual([]);
    await sleep(DEAD + 300);
    // A claimer itself seen too long ago claims nothing: its claim may have waited out a stalled database.
    expect(await store.claimDeadNodes(a, DEAD, 200)).toEqual([]);
    expect(await store.heartbeatNode(a)).toBe(true);
    // b is past its own threshold; d, on a longer one, is not.
    const [deadB, ...others] = await store.claimDeadNodes(a, DEAD, FRESH);
    expect([deadB?.id, others]).toEqual([b, []]);
    // When b was last heard from: its registration, its only beat (same machine, so the clocks agree).
    expect(Date.parse(deadB!.seenAt)).toBeGreaterThanOrEqual(bornB - 50);
    expect(Date.parse(deadB!.seenAt)).toBeLessThanOrEqual(bSeen + 50);
    // Claimed: b's next beat tells it so; its claimer may claim it again (a sweep that failed), no one else.
    expect(await store.heartbeatNode(b)).toBe(false);
    expect(ids(await store.claimDeadNodes(a, DEAD, FRESH))).toEqual([b]);
    await store.registerNode(c, DEAD);
    expect(await store.claimDeadNodes(c, DEAD, FRESH)).toEqual([]);
    // A claim as stale as its claimer's heartbeat is taken over.
    await sleep(DEAD + 300);
    expect(await store.heartbeatNode(c)).toBe(true);
    expect(ids(await store.claimDeadNodes(c, DEAD, FRESH))).toEqual([a, b].sort());
    await store.forgetNode(b);
    expect(await store.heartbeatNode(b)).toBe(false);
    // A claimer that is itself claimed claims nothing more.
    expect(await store.claimDeadNodes(a, DEAD, FRESH)).toEqual([]);
    // Nodes known to have exited (cluster mode) are claimed whatever their heartbeat, and only they.
    const [e, f] = [randomUUID(), randomUUID()];
    await store.registerNode(e, 60_000);
    await store.registerNode(f, 60_000);
    expect(await store.heartbeatNode(c)).toBe(true);
    expect(await store.claimDeadNodes(c, DEAD, FRESH, [])).toEqual([]);
    expect(ids(await store.claimDeadNodes(c, DEAD, FRESH, [e]))).toEqual([e]);
    expect(await store.heartbeatNode(e)).toBe(false);
    expect(await store.heartbeatNode(f)).toBe(true);
    // Still fenced: not another live sweeper's claim, nor for a claimer that is itself claimed or seen too long ago.
    expect(await store.claimDeadNodes(f, DEAD, FRESH, [e])).toEqual([]);
    expect(await store.claimDeadNodes(a, DEAD, FRESH, [f])).toEqual([]);
    await sleep(300);
    expect(await store.claimDeadNodes(c, DEAD, 200, [f])).toEqual([]);
    expect(await store.heartbeatNode(f)).toBe(true);

    const open = await interview(store);
    const ended = await interview(store);
    const join = (conn: string, data: Record<string, unknown>): NewEvent => ({ type: 'join', at: at(), actor: cy, data: { conn, ...data } });
    await store.append(open.id, [join('c1', { node: a }), join('c2', { node: b }), join('c3', {}), chat(`"node":"${a}"`)], { requireOpen: true });
    await store.append(ended.id, [join('c4', { node: a })], { requireOpen: true, patch: { status: 'ended', endedAt: at() } });
    const found = await store.joinsLoggedBy(a);
    expect(found.map((e) => [e.interviewId, e.type, e.data.conn, e.actor])).toEqual([[open.id, 'join', 'c1', cy]]);
    await expect(store.joinsLoggedBy("x%' or 1=1")).rejects.toThrow(/not a node id/);
  });

  it("finds the unclaimed nodes of one machine's PID space, with their processes", async () => {
    const { store } = await backend.open();
    const space = `boot-${randomUUID()} pid:[1]`;
    const [a, b, c, d] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await store.registerNode(a, 60_000, { space, pid: 4_194_304, started: 2 ** 40 });
    await store.registerNode(b, 60_000, { space, pid: 7, started: 9 });
    await store.registerNode(c, 60_000, { space: `${space}x`, pid: 7, started: 9 });
    await store.registerNode(d, 60_000);
    const found = async () => (await store.nodesInPidSpace(space)).sort((x, y) => x.pid - y.pid);
    expect(await found()).toEqual([
      { id: b, space, pid: 7, started: 9, seenAt: expect.any(Number) },
      { id: a, space, pid: 4_194_304, started: 2 ** 40, seenAt: expect.any(Number) },
    ]);
    // With when each was last seen: a heartbeat moves it on.
    const [before] = await found();
    await new Promise((r) => setTimeout(r, 5));
    expect(await store.heartbeatNode(b)).toBe(true);
    expect((await found())[0]!.seenAt).toBeGreaterThan(before!.seenAt);
    // Once claimed, another node is logging its leaves: not found again.
    expect(await store.heartbeatNode(d)).toBe(true);
    expect((await store.claimDeadNodes(d, 60_000, 60_000, [b])).map((n) => n.id)).toEqual([b]);
    expect((await found()).map((n) => n.id)).toEqual([a]);
    // Read as ended from its process, a node is claimed only once its record has also been silent
    // for a quarter of its threshold and a second (here 1.5 s).
    const g = randomUUID();
    await store.registerNode(g, 2000, { space, pid: 8, started: 9 });
    expect(await store.claimDeadNodes(d, 60_000, 60_000, [g], { silent: true })).toEqual([]);
    await new Promise((r) => setTimeout(r, 1800));
    expect(await store.heartbeatNode(d)).toBe(true);
    expect((await store.claimDeadNodes(d, 60_000, 60_000, [g], { silent: true })).map((n) => n.id)).toEqual([g]);
  });

  it('answers ping, and a second handle migrates idempotently', async () => {
    const { store, sibling } = await backend.open();
    await store.ping();
    const iv = await interview(store);
    const again = await sibling();
    expect(await again.getInterview(iv.id)).toMatchObject({ id: iv.id });
  });
});
