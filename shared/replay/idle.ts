/**
 * "Skip idle": a scale on which every gap between events longer than
 * `maxGapMs` is shortened to `maxGapMs`, for the scrubber and for playback.
 * Real time <-> scaled time are piecewise linear through the events.
 */
export interface IdleScale {
  /** Length of the scaled timeline, ms. */
  readonly duration: number;
  toScaled(realMs: number): number;
  toReal(scaledMs: number): number;
}

/** `times`: ms since the first event, ascending (e.g. timeline.times minus timeline.startTime). */
export function createIdleScale(times: readonly number[], maxGapMs: number): IdleScale {
  const real: number[] = [];
  const scaled: number[] = [];
  for (const t of times) {
    if (real.length === 0) {
      real.push(t);
      scaled.push(t);
      continue;
    }
    const gap = t - real[real.length - 1]!;
    if (gap <= 0) continue;
    real.push(t);
    scaled.push(scaled[scaled.length - 1]! + Math.min(gap, maxGapMs));
  }
  const map = (from: number[], to: number[], x: number): number => {
    if (from.length === 0) return x;
    if (x <= from[0]!) return to[0]! + (x - from[0]!);
    if (x >= from[from.length - 1]!) return to[to.length - 1]! + (x - from[from.length - 1]!);
    let lo = 0;
    let hi = from.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (from[mid]! <= x) lo = mid;
      else hi = mid;
    }
    const f = (x - from[lo]!) / (from[hi]! - from[lo]!);
    return to[lo]! + f * (to[hi]! - to[lo]!);
  };
  return {
    duration: scaled.length === 0 ? 0 : scaled[scaled.length - 1]! - scaled[0]!,
    toScaled: (ms) => map(real, scaled, ms),
    toReal: (ms) => map(scaled, real, ms),
  };
}
