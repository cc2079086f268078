/** How a node tells that another node's process, on the same machine, has ended (server/realtime/node-process.ts). */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hasEnded, thisNodeProcess } from '../server/realtime/node-process.js';

describe('a node process on the same machine', () => {
  it('is alive while it runs, and ended once it exits, or when its PID now names another process', async () => {
    const me = thisNodeProcess()!;
    expect(me.pid).toBe(process.pid);
    expect(hasEnded(me)).toBe(false);
    // The same PID with another start time: the recorded process ended and its PID went to another.
    expect(hasEnded({ pid: me.pid, started: me.started + 1 })).toBe(true);

    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    await new Promise((r) => child.once('spawn', r));
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    const started = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    expect(hasEnded({ pid: child.pid!, started })).toBe(false);
    // Stopped is not ended: it may go on.
    child.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 50));
    expect(hasEnded({ pid: child.pid!, started })).toBe(false);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(hasEnded({ pid: child.pid!, started })).toBe(true);
  });
});
