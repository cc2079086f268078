/**
 * Where a chunk of run output goes on screen, as plain arithmetic (the view
 * in run-output-view.ts does the DOM). The screen holds stretches of the
 * output, [offset, end) each, in order and none overlapping; a chunk can
 * repeat what is shown, fill a hole, or start past a hole.
 */

export interface Stretch {
  offset: number;
  end: number;
}

/** A part of the chunk not shown yet: characters [from, to), to go in as stretch number `index` (counting the parts before it). */
export interface NewPart {
  from: number;
  to: number;
  index: number;
}

/** The parts of [offset, end) not covered by `shown`, up to `limit`, in order. */
export function newParts(shown: readonly Stretch[], offset: number, end: number, limit: number): NewPart[] {
  end = Math.min(end, limit);
  const parts: NewPart[] = [];
  const last = shown[shown.length - 1];
  // The usual case: it follows what is shown.
  if (!last || offset >= last.end) {
    if (offset < end) parts.push({ from: offset, to: end, index: shown.length });
    return parts;
  }
  let from = offset;
  for (let i = 0; i < shown.length && from < end; i++) {
    const s = shown[i]!;
    if (s.end <= from) continue;
    if (s.offset > from) parts.push({ from, to: Math.min(s.offset, end), index: i + parts.length });
    from = Math.max(from, s.end);
  }
  if (from < end) parts.push({ from, to: end, index: shown.length + parts.length });
  return parts;
}
