/**
 * Latency histograms (HdrHistogram, microsecond resolution, 3 significant
 * digits) and the summary the results keep: a few percentiles, not samples.
 */
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export function createHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
}

/** Records a duration given in milliseconds. */
export function recordMs(h: Histogram, ms: number): void {
  h.recordValue(Math.max(1, Math.round(ms * 1000)));
}

const ms = (us: number) => Math.round(us) / 1000;

/** Percentiles in milliseconds. */
export function summarize(h: Histogram): LatencySummary {
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}

/** Histograms cross processes in HdrHistogram's compressed form. */
export function encode(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decode(s: string): Histogram {
  return hdr.decodeFromCompressedBase64(s);
}

export function merge(encoded: string[]): Histogram {
  const total = createHistogram();
  for (const e of encoded) total.add(decode(e));
  return total;
}
