/**
 * The output of the run on screen. Chunks carry their offset in the run's
 * output: a joiner (or a page back from a lost connection) is sent the output
 * so far while new chunks are broadcast, so a chunk can come twice, or after
 * one that follows it. Each character is shown once, in order; a chunk past
 * a gap waits for the gap to fill, at most GAP_WAIT_MS, and is then shown
 * anyway (the node that had the missing part may not have answered).
 */
import { LIMITS } from '../../shared/limits.js';
import type { RunOutput } from '../../shared/protocol.js';
import { clear, h } from './dom.js';

const GAP_WAIT_MS = 3000;

type Chunk = Omit<RunOutput, 'runId' | 'offset'> & { offset?: number | undefined };

export interface RunOutputView {
  readonly element: HTMLPreElement;
  /** The run whose output is shown. */
  readonly runId: string | undefined;
  /** Shows this run's output from now on (cleared, unless it is the one shown). */
  show(runId: string): void;
  add(chunk: Chunk): void;
  /** The run ended: whatever waits past a gap is shown. */
  flush(): void;
}

export function createRunOutputView(): RunOutputView {
  const element = h('pre', { class: 'run-output', 'aria-label': 'Program output', 'data-testid': 'run-output', tabindex: '0' }) as HTMLPreElement;
  let runId: string | undefined;
  /** Offset of the next character to show. */
  let next = 0;
  let waiting: Array<Chunk & { offset: number }> = [];
  let gapTimer: ReturnType<typeof setTimeout> | undefined;

  const write = (text: string, stream: Chunk['stream']) => {
    if (next > LIMITS.runOutputChars || text === '') return;
    const atBottom = element.scrollHeight - element.scrollTop - element.clientHeight < 30;
    element.append(h('span', { class: stream === 'stderr' ? 'stderr' : 'stdout' }, text));
    if (atBottom) element.scrollTop = element.scrollHeight;
  };
  /** Shows the part of a chunk at or past `next`; false when it starts past a gap. */
  const place = (chunk: Chunk & { offset: number }): boolean => {
    if (chunk.offset > next) return false;
    const end = chunk.offset + chunk.data.length;
    if (end > next) {
      write(chunk.data.slice(next - chunk.offset), chunk.stream);
      next = end;
    }
    return true;
  };
  const drain = () => {
    waiting.sort((a, b) => a.offset - b.offset);
    while (waiting.length > 0 && place(waiting[0]!)) waiting.shift();
    if (waiting.length === 0) stopTimer();
  };
  const stopTimer = () => {
    if (gapTimer !== undefined) clearTimeout(gapTimer);
    gapTimer = undefined;
  };
  const flush = () => {
    stopTimer();
    waiting.sort((a, b) => a.offset - b.offset);
    for (const chunk of waiting) {
      // Past the gap: shown from where it starts.
      next = Math.max(next, chunk.offset);
      place(chunk);
    }
    waiting = [];
  };

  return {
    element,
    get runId() {
      return runId;
    },
    show(id) {
      if (runId === id) return;
      runId = id;
      next = 0;
      waiting = [];
      stopTimer();
      clear(element);
    },
    add(chunk) {
      // A node from before offsets sends none: shown as it comes.
      if (chunk.offset === undefined) {
        write(chunk.data, chunk.stream);
        next += chunk.data.length;
        return;
      }
      if (place(chunk as Chunk & { offset: number })) return drain();
      waiting.push(chunk as Chunk & { offset: number });
      gapTimer ??= setTimeout(flush, GAP_WAIT_MS);
    },
    flush,
  };
}
