/**
 * Names on carets, live and in the replay: several carets on one spot would
 * draw their names on top of each other, so each next one goes above those
 * already there (styles.css, `.duet-label-N`).
 */

/** Names stacked on one spot at most this high (more share the top place). */
const MAX_STACKED = 3;

/** For one redraw: the label classes of a caret at (line, column), counting the ones placed there before. */
export function caretLabels(): (line: number, column: number) => string {
  const placed = new Map<string, number>();
  return (line, column) => {
    const spot = `${line}:${column}`;
    const below = placed.get(spot) ?? 0;
    placed.set(spot, below + 1);
    return `duet-label duet-label-${Math.min(below, MAX_STACKED)}`;
  };
}
