/** Durations and instants as the replay page writes them. */

/** "4:05", "1:02:09": elapsed time on the interview's clock. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** "14:05:12": the wall-clock time of an instant, in the viewer's locale. */
export function formatClock(epochMs: number): string {
  return new Date(epochMs).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** "28 Nov 2026": the day of the interview. */
export function formatDay(epochMs: number): string {
  return new Date(epochMs).toLocaleDateString([], { day: 'numeric', month: 'short', year: 'numeric' });
}
