/**
 * Where the page puts a chunk of run output (client/src/output-stretches.ts):
 * whatever order the chunks come in, and however often, each character is
 * shown once, where it belongs.
 */
import { describe, expect, it } from 'vitest';
import { newParts, type Stretch } from '../client/src/output-stretches.js';
import { seededRandom } from './helpers.js';

/** Plays chunks into stretches as the view does, keeping the text of each. */
function play(chunks: Array<{ offset: number; data: string }>, limit = Infinity): string {
  const shown: Array<Stretch & { text: string }> = [];
  for (const c of chunks) {
    for (const { from, to, index } of newParts(shown, c.offset, c.offset + c.data.length, limit)) {
      shown.splice(index, 0, { offset: from, end: to, text: c.data.slice(from - c.offset, to - c.offset) });
    }
    // The stretches stay in order and never overlap.
    for (let i = 1; i < shown.length; i++) expect(shown[i]!.offset).toBeGreaterThanOrEqual(shown[i - 1]!.end);
  }
  return shown.map((s) => s.text).join('');
}

describe('run output on screen', () => {
  it('appends in the usual case, skips what is shown, fills holes before what follows them', () => {
    expect(newParts([], 0, 5, 100)).toEqual([{ from: 0, to: 5, index: 0 }]);
    expect(newParts([{ offset: 0, end: 5 }], 5, 9, 100)).toEqual([{ from: 5, to: 9, index: 1 }]);
    expect(newParts([{ offset: 0, end: 5 }], 0, 5, 100)).toEqual([]);
    // Two holes and a tail, in one chunk that covers everything.
    const shown = [
      { offset: 2, end: 4 },
      { offset: 6, end: 8 },
    ];
    expect(newParts(shown, 0, 10, 100)).toEqual([
      { from: 0, to: 2, index: 0 },
      { from: 4, to: 6, index: 2 },
      { from: 8, to: 10, index: 4 },
    ]);
    // A chunk inside a hole, and one overlapping a stretch's start.
    expect(newParts(shown, 4, 5, 100)).toEqual([{ from: 4, to: 5, index: 1 }]);
    expect(newParts(shown, 5, 7, 100)).toEqual([{ from: 5, to: 6, index: 1 }]);
    // Nothing past the limit.
    expect(newParts([], 0, 10, 4)).toEqual([{ from: 0, to: 4, index: 0 }]);
    expect(newParts([{ offset: 0, end: 4 }], 4, 10, 4)).toEqual([]);
  });

  it('gives the whole output once, whatever the order and repeats of its chunks', () => {
    const text = Array.from({ length: 40 }, (_, i) => `line ${i}\n`).join('');
    for (let seed = 1; seed <= 200; seed++) {
      const rnd = seededRandom(seed);
      const chunks: Array<{ offset: number; data: string }> = [];
      // Cut the output at random, then repeat random spans (a joiner's output so far).
      for (let at = 0; at < text.length; ) {
        const len = 1 + rnd(20);
        chunks.push({ offset: at, data: text.slice(at, at + len) });
        at += len;
      }
      for (let k = rnd(4); k > 0; k--) {
        const from = rnd(text.length);
        const to = from + 1 + rnd(text.length - from);
        chunks.push({ offset: from, data: text.slice(from, to) });
      }
      for (let i = chunks.length - 1; i > 0; i--) {
        const j = rnd(i + 1);
        [chunks[i], chunks[j]] = [chunks[j]!, chunks[i]!];
      }
      expect(play(chunks)).toBe(text);
      expect(play(chunks, 50)).toBe(text.slice(0, 50));
    }
  });
});
