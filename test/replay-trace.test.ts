/**
 * A real editing trace (josephg/editing-traces, CC BY 4.0: one person writing a
 * Svelte component, 18,335 transactions) typed through a client into a node,
 * then replayed from the stored log: the replay passes through exactly the
 * texts the trace does, in order, and ends on its `endContent`.
 *
 * The traces are read from DUET_TRACES_DIR (default: the shared data directory
 * beside the project); the test is skipped when the file is absent.
 * DUET_TRACE_TXNS=N replays only the first N transactions.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadTimeline, ReplayPlayer, ReplayTimeline } from '../shared/replay/index.js';
import { connectClient, createInterview, mainFile, startNode, waitFor } from './helpers.js';

const TRACES = process.env.DUET_TRACES_DIR ?? join(import.meta.dirname, '..', '..', 'shared', 'data', 'editing-traces');
const FILE = join(TRACES, 'sveltecomponent.json.gz');

interface Trace {
  startContent: string;
  endContent: string;
  txns: Array<{ patches: Array<[number, number, string]> }>;
}

/** FNV-1a over UTF-16 units: 18k states of up to 18 KB compare as numbers, not strings. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function dedupe(list: number[]): number[] {
  return list.filter((s, i) => i === 0 || s !== list[i - 1]);
}

describe.skipIf(!existsSync(FILE))('replaying a real editing trace', () => {
  it('sveltecomponent through a client, a node and the log replays state by state to endContent', async () => {
    const trace = JSON.parse(gunzipSync(readFileSync(FILE)).toString('utf8')) as Trace;
    const limit = Number(process.env.DUET_TRACE_TXNS ?? trace.txns.length);
    const txns = trace.txns.slice(0, limit);

    const node = await startNode({ socketEventsPerSecond: 1_000_000, socketEventBurst: 1_000_000 });
    const iv = await createInterview(node, 'Svelte', 'typescript');
    const author = await connectClient(node.url, await iv.invite('candidate', 'Joseph'));
    const text = mainFile(author);

    // What the trace says the text is after each transaction (as hashes), applied to a plain string.
    let expected = trace.startContent;
    const expectedStates = [hash('')];
    if (expected.length > 0) {
      text.insert(0, expected);
      expectedStates.push(hash(expected));
    }
    for (const [i, txn] of txns.entries()) {
      author.provider.doc('main').transact(() => {
        for (const [pos, del, ins] of txn.patches) {
          if (del > 0) text.delete(pos, del);
          if (ins.length > 0) text.insert(pos, ins);
        }
      });
      for (const [pos, del, ins] of txn.patches) expected = expected.slice(0, pos) + ins + expected.slice(pos + del);
      expectedStates.push(hash(expected));
      // Keep a bounded number of edits in flight.
      if (i % 1000 === 999) await waitFor(() => author.provider.pending === 0, 20_000);
    }
    await waitFor(() => author.provider.pending === 0, 20_000);
    expect(text.toString()).toBe(expected);
    if (limit === trace.txns.length) expect(expected).toBe(trace.endContent);

    const timeline = new ReplayTimeline();
    await loadTimeline(timeline, { baseUrl: node.url, interviewId: iv.interview.id, token: iv.token });
    expect(timeline.length).toBeGreaterThan(txns.length);

    const player = new ReplayPlayer(timeline);
    const replayStates = [hash(player.text('main', 'main.ts'))];
    while (player.step()) replayStates.push(hash(player.text('main', 'main.ts')));
    expect(dedupe(replayStates)).toEqual(dedupe(expectedStates));
    expect(player.text('main', 'main.ts')).toBe(expected);
    // One author wrote every character.
    expect(player.attribution('main', 'main.ts')).toEqual([{ from: 0, to: expected.length, author: author.provider.session!.you.sub }]);

    // Random seeks through the checkpoints land on the same texts.
    const seeker = new ReplayPlayer(timeline);
    for (let k = 0; k < 200; k++) {
      const i = Math.floor((k * 7919) % (timeline.length + 1));
      seeker.moveTo(i);
      expect(hash(seeker.text('main', 'main.ts'))).toBe(replayStates[i]);
    }
  }, 120_000);
});
