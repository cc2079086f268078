/**
 * Group commit across interviews: one transaction per I/O turn for every
 * interview with queued events, on SQLite and PostgreSQL.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Actor } from '../shared/protocol.js';
import { createMetrics } from '../server/metrics.js';
import { EventWriter } from '../server/rooms/event-writer.js';
import type { NewEvent, Store } from '../server/store/store.js';
import { STORE_BACKENDS } from './fixtures/store-backends.js';

const backends = STORE_BACKENDS;

const cy: Actor = { sub: 'cy', name: 'Cy', role: 'candidate' };
const at = new Date(Date.UTC(2026, 10, 28, 12)).toISOString();
let n = 0;
const doc = (b: number): NewEvent => ({ type: 'doc', at, actor: cy, doc: 'main', bin: new Uint8Array([b]), data: { doc: 'main' } });

async function interviews(store: Store, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `iv_w_${Date.now().toString(36)}_${n++}`;
    await store.createInterview({ id, title: 't', language: 'typescript', createdAt: at, createdBy: cy }, [doc(0)]);
    ids.push(id);
  }
  return ids;
}

function writerOn(store: Store): { writer: EventWriter; groups: number[] } {
  const groups: number[] = [];
  const counting = Object.create(store) as Store;
  counting.appendMany = (items, options) => {
    groups.push(items.length);
    return store.appendMany(items, options);
  };
  return { writer: new EventWriter(counting, createMetrics(), pino({ level: 'silent' })), groups };
}

describe.each(backends)('event writer on $name', (backend) => {
  it('commits one turn of events for many interviews in one group, with gapless seqs each', async () => {
    const { store } = await backend.open();
    const ids = await interviews(store, 6);
    const { writer, groups } = writerOn(store);
    const results = await Promise.all(ids.flatMap((id) => [1, 2, 3].map((b) => writer.append(id, doc(b)))));
    expect(groups).toEqual([6]);
    for (const id of ids) {
      const events = await store.readEvents(id, {});
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      expect(events.map((e) => e.bin![0])).toEqual([0, 1, 2, 3]);
    }
    expect(results.map((r) => r.event.seq)).toEqual(ids.flatMap(() => [2, 3, 4]));
    await writer.idle();
  });

  it('refuses an ended interview alone; the rest of its group commits', async () => {
    const { store } = await backend.open();
    const [open, ended, open2] = await interviews(store, 3);
    await store.append(ended!, [{ type: 'end', at, actor: cy, data: {} }], { requireOpen: true, patch: { status: 'ended', endedAt: at } });
    const { writer } = writerOn(store);
    const [a, b, c, d] = await Promise.allSettled([
      writer.append(open!, doc(1)),
      writer.append(ended!, doc(1)),
      writer.append(open2!, doc(1)),
      writer.append('iv_nobody', doc(1)),
    ]);
    expect(a.status).toBe('fulfilled');
    expect(c.status).toBe('fulfilled');
    expect(b.status === 'rejected' && (b.reason as { code: string }).code).toBe('interview_ended');
    expect(d.status === 'rejected' && (d.reason as { code: string }).code).toBe('not_found');
    expect((await store.readEvents(ended!, {})).map((e) => e.type)).toEqual(['doc', 'end']);
  });

  it('commits a patch alone, in its place in the order', async () => {
    const { store } = await backend.open();
    const [id] = await interviews(store, 1);
    const { writer } = writerOn(store);
    const [, lang, after] = await Promise.all([
      writer.append(id!, doc(1)),
      writer.append(id!, { type: 'language', at, actor: cy, data: { language: 'python' } }, { language: 'python' }),
      writer.append(id!, doc(2)),
    ]);
    expect(lang.event.seq).toBe(3);
    expect(lang.interview.language).toBe('python');
    expect(after.event.seq).toBe(4);
    expect((await store.readEvents(id!, {})).map((e) => e.type)).toEqual(['doc', 'doc', 'language', 'doc']);
  });

  it.runIf(backend.name === 'postgres')('two nodes grouping the same interviews in opposite orders neither deadlock nor leave gaps', async () => {
    const { store, sibling } = await backend.open();
    const other = await sibling();
    const ids = await interviews(store, 8);
    const rounds = 20;
    await Promise.all(
      Array.from({ length: rounds }, (_, r) =>
        Promise.all([
          store.appendMany(ids.map((interviewId) => ({ interviewId, events: [doc(r)] })), { requireOpen: true }),
          other.appendMany([...ids].reverse().map((interviewId) => ({ interviewId, events: [doc(r), doc(r)] })), { requireOpen: true }),
        ]),
      ),
    );
    for (const id of ids) {
      const seqs = (await store.readEvents(id, {})).map((e) => e.seq);
      expect(seqs).toEqual(Array.from({ length: 1 + rounds * 3 }, (_, i) => i + 1));
    }
  });
});
