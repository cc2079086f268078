/**
 * The benchmark's CPU accounting (bench/processes.ts), on real processes:
 * the README's "where the machine's CPU went" figures come from it.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { cpuDelta, cpuSecondsOfNamed, machineBusySeconds } from '../bench/processes.js';

describe('bench CPU accounting', () => {
  it('charges a busy process its CPU seconds by name, and the machine at least as much', async () => {
    // Linux keeps 15 characters of a process's name.
    const name = `burn${process.pid}`.slice(0, 15);
    // Waits for a line on stdin, burns 0.3 s of its own CPU, says so, and waits to be killed.
    const child = spawn(
      process.execPath,
      [
        '-e',
        `process.title = ${JSON.stringify(name)};
         process.stdin.once('data', () => {
           const t = process.cpuUsage();
           while (process.cpuUsage(t).user + process.cpuUsage(t).system < 300_000) {}
           process.stdout.write('burnt\\n');
         });
         process.stdout.write('ready\\n');`,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    try {
      await once(child.stdout, 'data');
      const mine = (comm: string) => comm === name;
      const before = cpuSecondsOfNamed(mine);
      const machine0 = machineBusySeconds();
      expect([...before.keys()].map((k) => Number(k.split('@')[0]))).toEqual([child.pid]);
      child.stdin.write('go\n');
      await once(child.stdout, 'data');
      const after = cpuSecondsOfNamed(mine);
      const machine1 = machineBusySeconds();
      const burnt = cpuDelta(before, after);
      // Ticks are 10 ms, and the process also started its loop and wrote.
      expect(burnt).toBeGreaterThanOrEqual(0.28);
      expect(burnt).toBeLessThan(1.5);
      expect(machine1 - machine0).toBeGreaterThanOrEqual(burnt - 0.02);
    } finally {
      child.kill();
    }
  });

  it('counts a process first seen in the second reading from zero', () => {
    expect(cpuDelta(new Map([['1@10', 5]]), new Map([['1@10', 7], ['2@40', 0.5]]))).toBeCloseTo(2.5);
    // The same pid, reused by a process started later, is a new process.
    expect(cpuDelta(new Map([['1@10', 5]]), new Map([['1@90', 0.25]]))).toBeCloseTo(0.25);
  });
});
