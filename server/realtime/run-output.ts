/**
 * What a joiner is told of runs it did not watch: the output so far of the
 * run in progress, or the interview's last finished run from the log. A page
 * that reloads mid-interview, or an observer who arrives after a run, sees
 * what everyone else in the room sees.
 */
import { LANGUAGE_IDS } from '../../shared/languages.js';
import { LIMITS } from '../../shared/limits.js';
import type { RunOutput, RunRecord, RunState } from '../../shared/protocol.js';
import { readLoggedRun } from '../../shared/run-log.js';
import type { ServerContext } from '../context.js';
import type { StoredEvent } from '../store/store.js';
import type { Stream } from '../runner/execute.js';

/** One read of a run's output, as the run's `run` event logs it (`ms` after the start). */
export interface OutputChunk {
  stream: Stream;
  data: string;
  ms: number;
}

export type PlacedOutput = Omit<RunOutput, 'runId'>;

/**
 * The output as few chunks as its streams allow (adjacent reads of one
 * stream joined), each with its offset, up to `max` characters: past that a
 * page shows nothing more anyway.
 */
export function placedOutput(chunks: ReadonlyArray<{ stream: Stream; data: string }>, max: number = LIMITS.runOutputChars): PlacedOutput[] {
  const placed: PlacedOutput[] = [];
  let offset = 0;
  for (const { stream, data } of chunks) {
    if (offset >= max) break;
    const text = data.length > max - offset ? data.slice(0, max - offset) : data;
    const previous = placed[placed.length - 1];
    if (previous && previous.stream === stream) previous.data += text;
    else placed.push({ stream, data: text, offset });
    offset += text.length;
  }
  return placed;
}

/** A run in progress as a joiner is told of it. */
export interface RunInProgress {
  state: RunState;
  output: PlacedOutput[];
}

/** This node's run of the interview, if it has one. */
export function localRun(ctx: ServerContext, interviewId: string): RunInProgress | undefined {
  const job = ctx.runner.current(interviewId);
  return job && { state: job.state, output: placedOutput(job.output) };
}

/** The run a `run` event logged, for a joiner; undefined when the row lacks what a page needs. */
export function runRecordOf(event: StoredEvent): RunRecord | undefined {
  const run = readLoggedRun(event.data);
  const language = LANGUAGE_IDS.find((l) => l === run.language);
  if (!run.runId || run.startedAt === undefined || language === undefined) return undefined;
  return {
    runId: run.runId,
    path: run.path,
    language,
    by: event.actor,
    at: run.startedAt,
    output: placedOutput(run.output),
    exit: run.exit,
    ...(run.stdin ? { stdin: run.stdin } : {}),
  };
}
