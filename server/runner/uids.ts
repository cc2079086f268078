/**
 * Host uids for runs. RLIMIT_NPROC counts every process of a uid on the whole
 * host (root's are exempt, so runs never run as root), so each run takes a
 * uid no process uses right now: not another run of this node, nor one of
 * another node on the same machine (cluster workers, tests in parallel).
 * Picking at random from a wide range makes two nodes racing for the same
 * free uid in the same instant unlikely; the scan makes a leftover harmless.
 */
import { readdirSync, readFileSync } from 'node:fs';

export class UidPool {
  private readonly taken = new Set<number>();

  constructor(
    private readonly base: number,
    private readonly count: number,
  ) {}

  /** A uid no process on this host uses (or undefined if the range is exhausted). */
  take(): number | undefined {
    const busy = uidsInUse(this.base, this.base + this.count);
    for (let tries = 0; tries < 64; tries++) {
      const uid = this.base + Math.floor(Math.random() * this.count);
      if (!this.taken.has(uid) && !busy.has(uid)) {
        this.taken.add(uid);
        return uid;
      }
    }
    for (let uid = this.base; uid < this.base + this.count; uid++) {
      if (!this.taken.has(uid) && !busy.has(uid)) {
        this.taken.add(uid);
        return uid;
      }
    }
    return undefined;
  }

  release(uid: number | undefined): void {
    if (uid !== undefined) this.taken.delete(uid);
  }
}

/**
 * Tasks (threads count) already running as `uid`: when the node is not root,
 * runs share its uid, and RLIMIT_NPROC counts these too, so the limit is set
 * this much above the run's own budget.
 */
export function tasksOfUid(uid: number): number {
  let tasks = 0;
  for (const entry of readdirSync('/proc')) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) === uid) tasks += Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 1);
    } catch {
      // Exited meanwhile.
    }
  }
  return tasks;
}

/** Real uids of live host processes within [from, to). */
export function uidsInUse(from: number, to: number): Set<number> {
  const used = new Set<number>();
  for (const entry of readdirSync('/proc')) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      if (uid >= from && uid < to) used.add(uid);
    } catch {
      // Exited meanwhile.
    }
  }
  return used;
}
