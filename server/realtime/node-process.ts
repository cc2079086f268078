/**
 * A node's process, as another process on the same machine can tell whether
 * it has ended: a node crashed and restarted by its supervisor (systemd, a
 * shell loop), or one of several nodes on one host, is then known to be dead
 * at once instead of after NODE_DEAD_AFTER_SECONDS of silence
 * (server/realtime/dead-nodes.ts).
 *
 * Certain, not guessed: the same kernel boot and PID namespace, and that PID
 * either gone, a zombie, or now another process (its start time differs).
 * Anywhere else (another machine, container or PID namespace; not Linux) the
 * answer is "unknown", and the threshold decides as before.
 */
import { readFileSync, readlinkSync } from 'node:fs';

export interface NodeProcess {
  /** This kernel's boot and this PID namespace: PIDs compare only within one. */
  space: string;
  pid: number;
  /** When it started, in clock ticks since boot: tells a PID used again from the one recorded. */
  started: number;
}

/** This process, or undefined where /proc cannot tell (not Linux). */
export function thisNodeProcess(): NodeProcess | undefined {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const started = processStat(process.pid)?.started;
    if (!boot || started === undefined) return undefined;
    return { space: `${boot} ${readlinkSync('/proc/self/ns/pid')}`, pid: process.pid, started };
  } catch {
    return undefined;
  }
}

/** True only when certain that this process (of this process's space) has ended. */
export function hasEnded(recorded: { pid: number; started: number }): boolean {
  let stat: ReturnType<typeof processStat>;
  try {
    stat = processStat(recorded.pid);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
  if (!stat) return false;
  // A zombie has exited; its parent has not collected it yet.
  return stat.state === 'Z' || stat.started !== recorded.started;
}

/** Its state and start time from /proc/PID/stat; undefined when the line cannot be read as expected. */
function processStat(pid: number): { state: string; started: number } | undefined {
  const line = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name, in parentheses, may hold spaces and parentheses itself: the fields start after the last ')'.
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
  // Fields 3 (state) and 22 (starttime) of proc(5), counted from here.
  const state = fields[0];
  const started = Number(fields[19]);
  return state && Number.isSafeInteger(started) ? { state, started } : undefined;
}
