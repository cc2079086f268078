/**
 * A node's process, as another process on the same machine can tell whether
 * it has ended: a node crashed and restarted by its supervisor (systemd, a
 * shell loop), or one running beside a node that crashed, then sweeps the
 * crashed one's connections once its record has been silent a short while
 * (server/realtime/dead-nodes.ts), instead of after NODE_DEAD_AFTER_SECONDS
 * and a healthy stretch of its own.
 *
 * Read, not guessed from silence: the same kernel boot and PID namespace, and
 * that PID either gone, a zombie, or now another process (its start time
 * differs). (Machines cloned from one memory snapshot share all of that, hence
 * the short silence as well.) Anywhere else (another machine, container or
 * PID namespace; not Linux) the answer is "unknown", and the threshold decides
 * as before.
 */
import { readFileSync, readlinkSync } from 'node:fs';

export interface NodeProcess {
  /** This kernel's boot and this PID namespace: PIDs compare only within one. */
  space: string;
  pid: number;
  /** When it started, in clock ticks since boot: tells a PID used again from the one recorded. */
  started: number;
}

/** This process, or undefined where /proc cannot tell (not Linux, or a /proc of another PID namespace). */
export function thisNodeProcess(): NodeProcess | undefined {
  try {
    // A /proc mounted for another PID namespace would name other processes by these PIDs.
    if (readlinkSync('/proc/self') !== String(process.pid)) return undefined;
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
  try {
    // The kernel's word on whether the PID exists: /proc may hide other users' processes (hidepid).
    process.kill(recorded.pid, 0);
  } catch (err) {
    // EPERM: there, another user's.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  let stat: ReturnType<typeof processStat>;
  try {
    stat = processStat(recorded.pid);
  } catch {
    // There, but not to be read: unknown.
    return false;
  }
  if (!stat) return false;
  // A zombie has exited (its parent has not collected it yet); another start time, another process.
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
