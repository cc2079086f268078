/**
 * The output of the run on screen. Chunks carry their offset in the run's
 * output: a joiner (or a page back from a lost connection) is sent the output
 * so far while new chunks are broadcast, so a chunk can come twice, or after
 * one that follows it. Each character is shown once, where it belongs: a
 * chunk past a gap is shown at once, and what fills the gap later goes
 * before it.
 */
import { LIMITS } from '../../shared/limits.js';
import type { RunOutput } from '../../shared/protocol.js';
import { clear, h } from './dom.js';
import { newParts, type Stretch } from './output-stretches.js';

type Chunk = Omit<RunOutput, 'runId' | 'offset'> & { offset?: number | undefined };

/** A stretch of the output on screen, and its element. */
interface Shown extends Stretch {
  span: HTMLElement;
}

export interface RunOutputView {
  readonly element: HTMLPreElement;
  /** The run whose output is shown. */
  readonly runId: string | undefined;
  /** Shows this run's output from now on (cleared, unless it is the one shown). */
  show(runId: string): void;
  add(chunk: Chunk): void;
}

export function createRunOutputView(): RunOutputView {
  const element = h('pre', { class: 'run-output', 'aria-label': 'Program output', 'data-testid': 'run-output', tabindex: '0' }) as HTMLPreElement;
  let runId: string | undefined;
  /** In offset order, none overlapping. */
  let shown: Shown[] = [];

  const place = (chunk: Chunk & { offset: number }) => {
    for (const { from, to, index } of newParts(shown, chunk.offset, chunk.offset + chunk.data.length, LIMITS.runOutputChars)) {
      const span = h('span', { class: chunk.stream === 'stderr' ? 'stderr' : 'stdout' }, chunk.data.slice(from - chunk.offset, to - chunk.offset));
      const atBottom = element.scrollHeight - element.scrollTop - element.clientHeight < 30;
      element.insertBefore(span, shown[index]?.span ?? null);
      shown.splice(index, 0, { offset: from, end: to, span });
      if (atBottom) element.scrollTop = element.scrollHeight;
    }
  };

  return {
    element,
    get runId() {
      return runId;
    },
    show(id) {
      if (runId === id) return;
      runId = id;
      shown = [];
      clear(element);
    },
    add(chunk) {
      if (chunk.data === '') return;
      // A node from before offsets sends none: shown after what is there.
      const offset = chunk.offset ?? shown[shown.length - 1]?.end ?? 0;
      place({ ...chunk, offset });
    },
  };
}
