/** Where names go on carets (client/src/caret-labels.ts): stacked upwards, downwards where the editor's top edge leaves no room. */
import { describe, expect, it } from 'vitest';
import { caretLabels } from '../client/src/caret-labels.js';

/** The classes of `n` carets on one spot with `room` pixels shown above their line. */
const stack = (room: number, n: number) => {
  const label = caretLabels(() => room);
  return Array.from({ length: n }, () => label(3, 7).replace('duet-label ', ''));
};

describe('caret name labels', () => {
  it('stack upwards with room to spare, the fifth and later sharing the top place', () => {
    expect(stack(400, 5)).toEqual(['duet-label-0', 'duet-label-1', 'duet-label-2', 'duet-label-3', 'duet-label-3']);
  });

  it('go below the caret where the editor shows less than a name above the line', () => {
    // The line's top under the edge (scrolled part-way), or just at it.
    expect(stack(-8, 2)).toEqual(['duet-label-below-0', 'duet-label-below-1']);
    expect(stack(0, 1)).toEqual(['duet-label-below-0']);
    expect(stack(13, 1)).toEqual(['duet-label-below-0']);
  });

  it('fill the room above first, then the rest go below', () => {
    // Line 1 under a 16 px padding: one name fits above.
    expect(stack(16, 3)).toEqual(['duet-label-0', 'duet-label-below-0', 'duet-label-below-1']);
    // Two fit (13.5 + 15 px).
    expect(stack(30, 3)).toEqual(['duet-label-0', 'duet-label-1', 'duet-label-below-0']);
  });

  it('count each spot on its own', () => {
    const label = caretLabels(() => 400);
    expect([label(1, 1), label(1, 2), label(1, 1)]).toEqual(['duet-label duet-label-0', 'duet-label duet-label-0', 'duet-label duet-label-1']);
  });
});
