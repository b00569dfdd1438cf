import { createHistogram } from 'node:perf_hooks';

type Percentiles = { p50: number; p99: number; max: number };

/**
 * What the pool has learnt from finished tasks: the counts and timings behind `stats()`, and
 * each function's typical run time, which decides how deep its tasks may be pipelined.
 */
export class PoolMetrics {
  completed = 0;
  failed = 0;
  /** Marked functions with `offload: 'auto'` that moved to this pool (`name (module)`). */
  readonly offloaded = new Set<string>();
  readonly #wait = createHistogram();
  readonly #run = createHistogram();
  /** Per function (definition index): moving average of one task's run time in ms, as seen
   * from here (cloning included). Per function, so tiny tasks never make a heavy one pipeline. */
  readonly #averageRunMs = new Map<number, number>();

  /** One task of function `index` took `ms` (its share of a batch). */
  learnRunTime(index: number, ms: number): void {
    const average = this.#averageRunMs.get(index);
    this.#averageRunMs.set(index, average === undefined ? ms : average * 0.7 + ms * 0.3);
  }

  recordTask(waitMs: number, runMs: number): void {
    this.#wait.record(toMicros(waitMs));
    this.#run.record(toMicros(runMs));
  }

  /**
   * How many tasks one thread may hold when the next is of function `index`: ~4 ms of its
   * work; one for long tasks (no head-of-line wait) and for functions not measured yet.
   */
  depth(index: number): number {
    const average = this.#averageRunMs.get(index);
    if (average === undefined || average >= 5) return 1;
    return Math.min(512, Math.max(2, Math.floor(4 / average)));
  }

  waitMs(): Percentiles {
    return summarize(this.#wait);
  }

  runMs(): Percentiles {
    return summarize(this.#run);
  }
}

/** Histograms hold integers: record milliseconds as microseconds (at least 1). */
function toMicros(ms: number): number {
  return Math.max(1, Math.round(ms * 1000));
}

function summarize(histogram: ReturnType<typeof createHistogram>): Percentiles {
  if (histogram.count === 0) return { p50: 0, p99: 0, max: 0 };
  return {
    p50: histogram.percentile(50) / 1000,
    p99: histogram.percentile(99) / 1000,
    max: histogram.max / 1000,
  };
}
