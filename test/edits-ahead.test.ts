/**
 * A typist's edits are checked on top of the ones still waiting for their
 * commit (server/realtime/edits-ahead.ts), so they commit together, each its
 * own event; and when a commit fails, nothing checked on top of it reaches the
 * log without it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { Store } from '../server/store/store.js';
import { FUZZ_TIMEOUT, nodeErrors, runs, startFuzzNode } from './fuzz-kit.js';
import { connectClient, createInterview, mainFile, startNode, waitFor, type TestClient, type TestNode } from './helpers.js';

/** Holds the first group commit until `open`, then lets it through, or fails it; records each commit's doc events per interview. */
function holdFirstCommit(store: Store, id: string, outcome: 'store' | 'fail') {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const appendMany = store.appendMany.bind(store);
  const docEventsPerCommit: number[] = [];
  let first = true;
  store.appendMany = async (items, options) => {
    const mine = items.find((i) => i.interviewId === id)?.events.filter((e) => e.type === 'doc').length ?? 0;
    if (mine > 0) docEventsPerCommit.push(mine);
    if (mine > 0 && first) {
      first = false;
      await gate;
      if (outcome === 'fail') throw new Error('connection to the database lost');
    }
    return appendMany(items, options);
  };
  return { open, docEventsPerCommit };
}

async function docUpdatesReceived(node: TestNode): Promise<number> {
  const metric = await node.server.ctx.metrics.clientEvents.get();
  return metric.values.find((v) => v.labels.event === 'doc:update')?.value ?? 0;
}

/** The interview's logged edits, applied in log order: none may need one logged after it. */
async function replayLog(node: TestNode, id: string): Promise<{ text: string; events: number }> {
  const events = await node.server.ctx.store.readEvents(id, { type: 'doc' });
  const ydoc = new Y.Doc();
  for (const e of events) {
    Y.applyUpdate(ydoc, e.bin!);
    expect(ydoc.store.pendingStructs, `event ${e.seq} depends on an edit not before it in the log`).toBeNull();
    expect(ydoc.store.pendingDs).toBeNull();
  }
  const file = ydoc.getMap('files').get('main.ts');
  return { text: file instanceof Y.Text ? file.toString() : '', events: events.length };
}

describe('edits checked ahead of their commits', () => {
  it('queues a typist’s next edits behind the one committing, and commits them together, each its own event', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const cand = await connectClient(node.url, await iv.invite('candidate'));
    const before = await docUpdatesReceived(node);
    const logged = (await replayLog(node, iv.interview.id)).events;
    const held = holdFirstCommit(node.server.ctx.store, iv.interview.id, 'store');
    mainFile(cand).insert(0, 'a');
    await waitFor(() => held.docEventsPerCommit.length === 1);
    for (const ch of 'bcde') mainFile(cand).insert(mainFile(cand).length, ch);
    // All five reached the node; the first is held in its commit.
    await waitFor(async () => (await docUpdatesReceived(node)) === before + 5);
    await new Promise((r) => setTimeout(r, 50));
    held.open();
    await waitFor(() => cand.provider.pending === 0);
    // Checked while the first was committing, the other four went in the next commit.
    expect(held.docEventsPerCommit).toEqual([1, 4]);
    expect(await replayLog(node, iv.interview.id)).toEqual({ text: 'abcde', events: logged + 5 });
    const late = await connectClient(node.url, await iv.invite('observer'));
    expect(late.text()).toBe('abcde');
  });

  it('fails the edits checked on top of one whose commit failed; the client sends them again and the log holds each once, in order', async () => {
    const node = await startNode();
    const iv = await createInterview(node);
    const cand = await connectClient(node.url, await iv.invite('candidate'));
    const before = await docUpdatesReceived(node);
    const logged = (await replayLog(node, iv.interview.id)).events;
    const held = holdFirstCommit(node.server.ctx.store, iv.interview.id, 'fail');
    const refused: string[] = [];
    cand.provider.on('refused', (error: { code: string }) => refused.push(error.code));
    mainFile(cand).insert(0, 'a');
    await waitFor(() => held.docEventsPerCommit.length === 1);
    for (const ch of 'bcde') mainFile(cand).insert(mainFile(cand).length, ch);
    await waitFor(async () => (await docUpdatesReceived(node)) === before + 5);
    await new Promise((r) => setTimeout(r, 50));
    held.open();
    // The provider resyncs after the refusals (unavailable, retryable) and sends them again.
    await waitFor(() => cand.provider.pending === 0, 10_000);
    expect(refused).toEqual([]);
    expect(held.docEventsPerCommit[0]).toBe(1);
    // Sent again after a resync, they may come as one update.
    const replay = await replayLog(node, iv.interview.id);
    expect(replay.text).toBe('abcde');
    expect(replay.events).toBeGreaterThan(logged);
    const late = await connectClient(node.url, await iv.invite('observer'));
    expect(late.text()).toBe('abcde');
    expect(cand.text()).toBe('abcde');
  });

  it('two typists editing in bursts while commits are slow or fail: everyone converges on what the log replays, in log order', async () => {
    const node = await startFuzzNode();
    const iv = await createInterview(node);
    const cand = await connectClient(node.url, await iv.invite('candidate'));
    const ada = await connectClient(node.url, await iv.invite('interviewer', 'Ada'));
    const errorsBefore = nodeErrors.length;
    // Every commit waits 0-15 ms; one in eight fails as if the database went away.
    const store = node.server.ctx.store;
    const appendMany = store.appendMany.bind(store);
    let fate = () => 0;
    store.appendMany = async (items, options) => {
      const f = fate();
      await new Promise((r) => setTimeout(r, f % 16));
      if (f % 8 === 0) throw new Error('connection to the database lost');
      return appendMany(items, options);
    };
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ minLength: 1, maxLength: 4 }) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 3 }) }),
    );
    type Edit = { kind: 'insert'; at: number; text: string } | { kind: 'delete'; at: number; len: number };
    const apply = (c: TestClient, e: Edit) => {
      const file = mainFile(c);
      const at = e.at % (file.length + 1);
      if (e.kind === 'insert') file.insert(at, e.text);
      else if (at < file.length) file.delete(at, Math.min(e.len, file.length - at));
    };
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.boolean(), fc.array(edit, { minLength: 1, maxLength: 12 })), { minLength: 2, maxLength: 6 }),
        fc.infiniteStream(fc.nat()),
        async (bursts, fates) => {
          fate = () => fates.next().value as number;
          for (const [byCand, edits] of bursts) {
            // A burst: edits typed back to back or a few ms apart, each sent at once.
            for (const e of edits) {
              apply(byCand ? cand : ada, e);
              if (e.at % 3 === 0) await new Promise((r) => setTimeout(r, e.at % 4));
            }
            await new Promise((r) => setTimeout(r, 5));
          }
          await waitFor(() => cand.provider.pending === 0 && ada.provider.pending === 0, 20_000);
          await waitFor(() => expect(ada.text()).toBe(cand.text()), 5000);
        },
      ),
      { numRuns: runs(8) },
    );
    fate = () => 1;
    const replay = await replayLog(node, iv.interview.id);
    expect(replay.text).toBe(cand.text());
    const late = await connectClient(node.url, await iv.invite('observer'));
    expect(late.text()).toBe(cand.text());
    expect(nodeErrors.slice(errorsBefore).filter((l) => !l.includes('event log write failed'))).toEqual([]);
  }, FUZZ_TIMEOUT);
});
