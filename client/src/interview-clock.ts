/**
 * The room's clock: how long the interview has been going, counted from when
 * its first candidate first joined (before that there is nothing to time) to
 * now, or to its end. No DOM here: room-page.ts shows it, the tests read it.
 */
import type { Participant } from '../../shared/protocol.js';

/** When the clock starts: the earliest first join of a candidate (epoch ms), if any has joined. */
export function clockStart(participants: readonly Participant[]): number | undefined {
  let start: number | undefined;
  for (const p of participants) {
    if (p.role !== 'candidate' || !p.firstSeen) continue;
    const t = Date.parse(p.firstSeen);
    if (Number.isFinite(t) && (start === undefined || t < start)) start = t;
  }
  return start;
}

/** 0:42, 12:05, 1:02:05. A negative span (the node's clock ahead of this one) reads 0:00. */
export function clockText(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const [h, m, s] = [Math.floor(total / 3600), Math.floor(total / 60) % 60, total % 60];
  const two = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}
