/**
 * Names on carets, live and in the replay: several carets on one spot would
 * draw their names on top of each other, so each next one goes above those
 * already there (styles.css, `.duet-label-N`). Where the editor's top edge
 * leaves no room above (line 1, or a caret on the first line scrolled into
 * view), the names that do not fit stack downwards instead
 * (`.duet-label-below-N`), rather than be cut off.
 *
 * Free of Monaco (the editor is passed in), so the placement is tested in Node.
 */

/** Names stacked on one spot at most this high (more share the top place). */
const MAX_STACKED = 3;

/**
 * What a name takes above its caret's line, in pixels, as styles.css draws it
 * (10px font, line-height 1.5): the first reaches 1.35em above the line, each
 * next one 1.5em further.
 */
const FIRST_LABEL_PX = 13.5;
const NEXT_LABEL_PX = 15;

/** Pixels between the top of `line` and the top of what `editor` shows (its padding included). */
export function roomAboveIn(editor: { getScrollTop(): number; getTopForLineNumber(line: number): number }): (line: number) => number {
  const scrollTop = editor.getScrollTop();
  return (line) => editor.getTopForLineNumber(line) - scrollTop;
}

/**
 * For one redraw: the label classes of a caret at (line, column), counting the
 * ones placed there before. `roomAbove(line)` is how many pixels the editor
 * shows above that line.
 */
export function caretLabels(roomAbove: (line: number) => number): (line: number, column: number) => string {
  const placed = new Map<string, number>();
  return (line, column) => {
    const spot = `${line}:${column}`;
    const before = placed.get(spot) ?? 0;
    placed.set(spot, before + 1);
    const room = roomAbove(line);
    const fitAbove = room < FIRST_LABEL_PX ? 0 : 1 + Math.floor((room - FIRST_LABEL_PX) / NEXT_LABEL_PX);
    if (fitAbove > MAX_STACKED) return `duet-label duet-label-${Math.min(before, MAX_STACKED)}`;
    if (before < fitAbove) return `duet-label duet-label-${before}`;
    return `duet-label duet-label-below-${Math.min(before - fitAbove, MAX_STACKED)}`;
  };
}
