/**
 * What a cold room's stored answer costs (Room.storedDoc: the log's tail
 * past the snapshot merged, and the state vector): a tail of N keystrokes by
 * 8 writers, in a temporary SQLite store; each round loads the room afresh
 * and asks four times, as four joiners would (performance.md, change 46).
 *
 *   npx tsx bench/stored-doc-cost.ts [N=490]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Y from 'yjs';
import { createSqliteStore } from '../server/store/sqlite.js';
import { Room } from '../server/rooms/room.js';
import { createRng } from './prng.js';

const N = Number(process.argv[2] ?? 490);
const dir = mkdtempSync(join(tmpdir(), 'duet-stored-doc-'));
const store = await createSqliteStore(dir);
const actor = { sub: 'a', name: 'A', role: 'interviewer' as const };
const iv = await store.createInterview({ id: 'iv' + Date.now(), title: 't', language: 'python', createdAt: new Date().toISOString(), createdBy: actor }, []);
const rnd = createRng(7);
const docs = Array.from({ length: 8 }, () => new Y.Doc());
// A start text from one writer, which every writer has.
const base = docs[0]!.getMap<Y.Text>('files');
const start = new Y.Text();
base.set('main.py', start);
start.insert(0, 'x'.repeat(2000));
const first = Y.encodeStateAsUpdate(docs[0]!);
for (const d of docs.slice(1)) Y.applyUpdate(d, first);
const events = [{ type: 'doc' as const, at: new Date().toISOString(), actor, data: {}, doc: 'main' as const, bin: first }];
for (let i = 0; i < N; i++) {
  const d = docs[i % 8]!;
  const t = d.getMap<Y.Text>('files').get('main.py')!;
  const sv = Y.encodeStateVector(d);
  if (rnd() < 0.15 && t.length > 10) t.delete(Math.floor(rnd() * (t.length - 1)), 1);
  else t.insert(Math.floor(rnd() * t.length), 'abcdefgh'[i % 8]!);
  const u = Y.encodeStateAsUpdate(d, sv);
  for (const o of docs) if (o !== d) Y.applyUpdate(o, u);
  events.push({ type: 'doc', at: new Date().toISOString(), actor, data: {}, doc: 'main', bin: u });
}
await store.append(iv.id, events, { requireOpen: true });
for (let round = 0; round < 5; round++) {
  const room = await Room.load(store, iv.id, iv);
  const times: number[] = [];
  for (let k = 0; k < 4; k++) {
    const t0 = performance.now();
    room.storedDoc('main', 1000);
    times.push(performance.now() - t0);
  }
  console.log(`tail ${N}: storedDoc x4 ms`, times.map((t) => t.toFixed(2)).join(' '));
  room.destroy();
}
await store.close();
rmSync(dir, { recursive: true, force: true });
