/**
 * The benchmark's CPU accounting (bench/processes.ts), on real processes:
 * the README's "where the machine's CPU went" figures come from it.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cpuDelta, cpuSecondsOfNamed, machineBusySeconds, runQueueSeconds } from '../bench/processes.js';

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

  it.skipIf(!existsSync('/usr/bin/taskset'))('reports the time a main thread waited for a core: three busy processes on one core each wait twice their burn', async () => {
    // The first core this process may use (a container's cpuset may leave out core 0).
    const core = /Cpus_allowed_list:\s*(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
    // Each, pinned to that core, says ready, waits for go, burns 0.4 s of its own CPU, and prints how
    // long it waited for the core meanwhile.
    const burner = () =>
      spawn(
        'taskset',
        [
          '-c',
          core,
          process.execPath,
          '--input-type=module',
          '-e',
          `import { runQueueSeconds } from ${JSON.stringify(new URL('../bench/processes.ts', import.meta.url).href)};
           process.stdout.write('ready\\n');
           process.stdin.once('data', () => {
             const w = runQueueSeconds('self');
             const t = process.cpuUsage();
             while (process.cpuUsage(t).user + process.cpuUsage(t).system < 400_000) {}
             process.stdout.write(String(runQueueSeconds('self') - w));
             process.exit(0);
           });`,
        ],
        { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: '--import tsx' } },
      );
    const children = [burner(), burner(), burner()];
    const outs = children.map(() => '');
    children.forEach((c, i) => c.stdout!.on('data', (b: Buffer) => (outs[i] += b.toString())));
    const exits = children.map((c) => once(c, 'exit'));
    await Promise.all(
      children.map(
        (c, i) =>
          new Promise<void>((resolve, reject) => {
            c.stdout!.on('data', () => outs[i]!.includes('ready') && resolve());
            c.once('exit', (code) => reject(new Error(`a burner exited (${code}) before it was ready`)));
          }),
      ),
    );
    for (const c of children) c.stdin!.write('go\n');
    for (const [code] of await Promise.all(exits)) expect(code).toBe(0);
    const waited = outs.map((o) => Number(o.split('\n')[1]));
    // Sharing one core fairly, 1.2 s of work in all: each waited ~0.8 s, twice its own 0.4 s of
    // CPU, so the sum is ~2.4 s (a reading of CPU time instead would sum to ~1.2, none to ~0).
    expect(waited.reduce((x, y) => x + y, 0)).toBeGreaterThan(1.6);
    expect(Math.min(...waited)).toBeGreaterThan(0.2);
    expect(runQueueSeconds(process.pid)).toBeGreaterThanOrEqual(0);
  });

  it('counts a process first seen in the second reading from zero', () => {
    expect(cpuDelta(new Map([['1@10', 5]]), new Map([['1@10', 7], ['2@40', 0.5]]))).toBeCloseTo(2.5);
    // The same pid, reused by a process started later, is a new process.
    expect(cpuDelta(new Map([['1@10', 5]]), new Map([['1@90', 0.25]]))).toBeCloseTo(0.25);
  });
});
