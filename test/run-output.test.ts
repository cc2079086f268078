/**
 * What a joiner is told of runs, as pure functions: the output so far as few
 * placed chunks as its streams allow, bounded; and a logged run read back
 * from the event log, leniently for rows older versions wrote.
 */
import { describe, expect, it } from 'vitest';
import { placedOutput, runRecordOf } from '../server/realtime/run-output.js';
import type { StoredEvent } from '../server/store/store.js';
import { readLoggedRun } from '../shared/run-log.js';

const cy = { sub: 'cy', name: 'Cy', role: 'candidate' as const };

describe('run output for joiners', () => {
  it('joins adjacent chunks of a stream, places each by the characters before it, and stops at the bound', () => {
    const chunks = [
      { stream: 'stdout' as const, data: 'ab' },
      { stream: 'stdout' as const, data: 'c' },
      { stream: 'stderr' as const, data: 'E' },
      { stream: 'stdout' as const, data: 'defgh' },
      { stream: 'stdout' as const, data: 'never' },
    ];
    expect(placedOutput(chunks)).toEqual([
      { stream: 'stdout', data: 'abc', offset: 0 },
      { stream: 'stderr', data: 'E', offset: 3 },
      { stream: 'stdout', data: 'defghnever', offset: 4 },
    ]);
    expect(placedOutput(chunks, 6)).toEqual([
      { stream: 'stdout', data: 'abc', offset: 0 },
      { stream: 'stderr', data: 'E', offset: 3 },
      { stream: 'stdout', data: 'de', offset: 4 },
    ]);
    // The chunks are the node's own record of the run: joining must not change them.
    expect(chunks[0]).toEqual({ stream: 'stdout', data: 'ab' });
  });

  it('reads a logged run back as the joiner is told it, and skips a row without what a page needs', () => {
    const event = (data: Record<string, unknown>): StoredEvent => ({ seq: 9, at: '2026-11-30T00:00:02.000Z', type: 'run', actor: cy, data });
    const logged = {
      runId: 'r1',
      path: 'main.py',
      language: 'python',
      stdin: '',
      startedAt: '2026-11-30T00:00:01.000Z',
      code: null,
      signal: 'SIGKILL',
      durationMs: 812,
      maxRssKb: null,
      truncated: false,
      stoppedBy: { sub: 'ada', name: 'Ada', role: 'interviewer' },
      output: [
        { stream: 'stdout', data: 'x', ms: 3 },
        { stream: 'stdout', data: 'y', ms: 4 },
      ],
    };
    expect(runRecordOf(event(logged))).toEqual({
      runId: 'r1',
      path: 'main.py',
      language: 'python',
      by: cy,
      at: '2026-11-30T00:00:01.000Z',
      output: [{ stream: 'stdout', data: 'xy', offset: 0 }],
      exit: { runId: 'r1', code: null, signal: 'SIGKILL', durationMs: 812, maxRssKb: null, truncated: false, stoppedBy: { sub: 'ada', name: 'Ada', role: 'interviewer' } },
    });
    // A run given input carries it; an empty input is no input.
    expect(runRecordOf(event({ ...logged, stdin: '6\n7\n' }))).toMatchObject({ runId: 'r1', stdin: '6\n7\n' });
    expect(runRecordOf(event({ ...logged, stdin: 42 }))).not.toHaveProperty('stdin');
    expect(runRecordOf(event({ ...logged, startedAt: undefined }))).toBeUndefined();
    expect(runRecordOf(event({ ...logged, language: 'cobol' }))).toBeUndefined();
    expect(runRecordOf(event({ ...logged, runId: 7 }))).toBeUndefined();
    // The replay reads the same rows, and an odd one still gives a neutral exit.
    expect(readLoggedRun({ path: 3, output: 'no', error: { code: 'run_timeout', message: 'too slow' } })).toEqual({
      runId: '',
      path: '',
      language: undefined,
      startedAt: undefined,
      stdin: '',
      output: [],
      files: {},
      codeChars: undefined,
      exit: { runId: '', code: null, signal: null, durationMs: 0, maxRssKb: null, truncated: false, error: { code: 'run_timeout', message: 'too slow' } },
    });
    // The code a run read: only text files count; a size stands in for code too large to keep.
    expect(readLoggedRun({ files: { 'a.py': 'print(1)\n', 'b.py': 7 } }).files).toEqual({ 'a.py': 'print(1)\n' });
    expect(readLoggedRun({ files: ['x'] }).files).toEqual({});
    expect(readLoggedRun({ codeChars: 70_000 })).toMatchObject({ files: {}, codeChars: 70_000 });
  });
});
