import type { RecordableHistogram } from 'node:perf_hooks';

/** Histograms hold integers: record milliseconds as microseconds (at least 1). */
export function toMicros(ms: number): number {
  return Math.max(1, Math.round(ms * 1000));
}

export function summarize(histogram: RecordableHistogram): { p50: number; p99: number; max: number } {
  if (histogram.count === 0) return { p50: 0, p99: 0, max: 0 };
  return {
    p50: histogram.percentile(50) / 1000,
    p99: histogram.percentile(99) / 1000,
    max: histogram.max / 1000,
  };
}
