/**
 * Child processes of a run: spawned with an IPC channel, tracked by PID, and
 * all killed (by PID, process group included) on exit, on a signal, or on a
 * failure. Also reads a process's CPU time and RSS from /proc.
 */
import { spawn, execFileSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const live = new Set<ChildProcess>();
let hooked = false;

function killAll(): void {
  for (const child of live) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  live.clear();
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      killAll();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    console.error(err);
    killAll();
    process.exit(1);
  });
}

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once, no chance to shut down (a node dying); resolves once it is gone. */
  kill(): Promise<void>;
}

/** A child in its own process group (so stop() reaches anything it spawned), with IPC. */
export function spawnChild(cmd: string, args: string[], options: SpawnOptions & { label: string; quiet?: boolean }): Child {
  hookExit();
  const proc = spawn(cmd, args, {
    ...options,
    detached: true,
    stdio: ['ignore', options.quiet ? 'ignore' : 'inherit', 'pipe', 'ipc'],
  });
  if (!proc.pid) throw new Error(`could not start ${options.label}`);
  live.add(proc);
  let stderrTail = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderrTail = (stderrTail + d.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => {
    proc.on('exit', (code) => {
      live.delete(proc);
      if (code !== 0 && code !== null && !stopping) {
        process.stderr.write(`[bench] ${options.label} (pid ${proc.pid}) exited with ${code}:\n${stderrTail}\n`);
      }
      resolve(code);
    });
  });
  let stopping = false;
  const pid = proc.pid;
  return {
    proc,
    pid,
    exited,
    async kill() {
      stopping = true;
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await exited;
    },
    async stop(graceMs = 3000) {
      stopping = true;
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, graceMs);
      await exited;
      clearTimeout(timer);
      // Anything the child left in its group.
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    },
  };
}

/** Pins a process (all its threads) to one CPU; false where taskset is missing. */
export function pinToCpu(pid: number, cpu: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** User + system CPU seconds of a process (all threads), from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / TICKS_PER_SECOND;
}

/**
 * Seconds a process's main thread (its event loop) has spent runnable but
 * waiting for a core, from /proc/<pid>/schedstat (the scheduler's run delay);
 * undefined where the kernel does not keep it.
 */
export function runQueueSeconds(pid: number | 'self'): number | undefined {
  try {
    const waited = Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]);
    return Number.isFinite(waited) ? waited / 1e9 : undefined;
  } catch {
    return undefined;
  }
}

/** Process id and start time (clock ticks since boot): a key a reused pid does not share. */
function processKey(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return `${pid}@${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`;
}

/** CPU seconds of these processes, by processKey; one that has exited is left out. */
export function cpuSecondsOfPids(pids: number[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of pids) {
    try {
      out.set(processKey(pid), cpuSeconds(pid));
    } catch {
      /* exited */
    }
  }
  return out;
}

/** CPU seconds of every process whose name passes `test` (e.g. all PostgreSQL backends), by processKey. */
export function cpuSecondsOfNamed(test: (comm: string) => boolean): Map<string, number> {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (test(readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) pids.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return cpuSecondsOfPids(pids);
}

/**
 * CPU seconds of such processes between two readings: a process seen only in
 * the second counts from zero (a backend started in the window); one that
 * exited in the window is not counted at all (rare here: the pools keep their
 * connections through a trial).
 */
export function cpuDelta(before: Map<string, number>, after: Map<string, number>): number {
  let s = 0;
  for (const [key, t] of after) s += t - (before.get(key) ?? 0);
  return s;
}

/** The whole machine's busy CPU seconds (all cores, steal excluded), from /proc/stat. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  // cpu user nice system idle iowait irq softirq steal ...
  const [user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq!) / TICKS_PER_SECOND;
}

/** Resident set size in bytes, from /proc/<pid>/status. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** A request over a child's IPC channel, answered by a message of the same `type`. */
export function ask<T>(child: Child, message: { type: string } & Record<string, unknown>, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.proc.off('message', onMessage);
      reject(new Error(`no answer to ${message.type} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m: unknown) => {
      if (typeof m === 'object' && m !== null && (m as { type?: unknown }).type === message.type) {
        clearTimeout(timer);
        child.proc.off('message', onMessage);
        resolve(m as T);
      }
    };
    child.proc.on('message', onMessage);
    child.proc.send(message);
  });
}

/** Waits for the first message of `type` from the child. */
export function waitFor<T>(child: Child, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no ${type} message within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m: unknown) => {
      if (typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type) {
        cleanup();
        resolve(m as T);
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`process exited (${code}) before sending ${type}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.proc.off('message', onMessage);
      child.proc.off('exit', onExit);
    };
    child.proc.on('message', onMessage);
    child.proc.on('exit', onExit);
  });
}
