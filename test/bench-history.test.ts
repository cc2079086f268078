/**
 * bench/results/quick-history.md is generated from the quick runs' JSON
 * (npm run bench:history; a quick run rewrites it too), and the README's
 * summary of every session's run points at it: it must say what the runs say.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { quickHistory, readQuickRuns } from '../bench/history.js';

const RESULTS = join(import.meta.dirname, '..', 'bench', 'results');

describe('the table of quick runs', () => {
  it('is the one the kept runs make, oldest first, one row each', () => {
    const runs = readQuickRuns(RESULTS);
    const kept = readFileSync(join(RESULTS, 'quick-history.md'), 'utf8');
    expect(kept).toBe(quickHistory(runs));
    const rows = kept.split('\n').filter((l) => l.startsWith('| [quick-'));
    expect(rows.map((r) => /\[(quick-s\d+[a-z]?)\]/.exec(r)![1])).toEqual(runs.map((r) => r.name));
  });

  it('reads each figure from its run: a step none of whose trials ran says so rather than 0 ms', () => {
    const runs = readQuickRuns(RESULTS);
    const s14 = runs.find((r) => r.name === 'quick-s14')!;
    const hp500 = s14.results.steps.find((s) => s.system === 'hocuspocus' && s.rooms === 500)!;
    expect(hp500.trials).toBe(0);
    const row = quickHistory([s14]).split('\n').find((l) => l.startsWith('| [quick-s14]'))!;
    const cells = row.split(' | ');
    // run, date, CPU, commit, 100 Duet, 100 Hocuspocus, 500 Duet, 500 Hocuspocus, joins, heap
    expect(cells[3]).toBe(s14.results.versions.duet);
    const duet100 = s14.results.steps.find((s) => s.system === 'duet' && s.rooms === 100)!;
    expect(cells[4]).toBe(`${duet100.cross.p50.toFixed(1)} / ${duet100.cross.p99.toFixed(1)} ${duet100.pass ? 'pass' : 'fail'}`);
    expect(cells[7]).toBe('every trial failed to run');
  });
});
