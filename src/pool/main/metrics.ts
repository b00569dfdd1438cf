import { DurationHistogram } from './histogram.js';

/** Tasks one thread may hold at most, however tiny: deep enough that a thread still has work
 * through a main-thread GC pause of a few ms. */
const MAX_DEPTH = 2048;
/** Run-time slots: function indexes only grow (sources forgotten and sent again get new ones),
 * so beyond this they share slots; a shared slot only blurs a pipelining estimate. */
const RUN_TIME_SLOTS = 4096;

type Percentiles = { p50: number; p99: number; max: number };

export interface PoolStats {
  threads: number;
  busy: number;
  queued: number;
  completed: number;
  failed: number;
  waitMs: { p50: number; p99: number; max: number };
  runMs: { p50: number; p99: number; max: number };
  /** Marked functions with `offload: 'auto'` that moved to this pool (`name (module)`). */
  offloaded: string[];
}

/**
 * What the pool has learnt from finished tasks: the counts and timings behind `stats()`, and
 * each function's typical run time, which decides how deep its tasks may be pipelined.
 */
export class PoolMetrics {
  completed = 0;
  failed = 0;
  /** Marked functions with `offload: 'auto'` that moved to this pool (`name (module)`). */
  readonly offloaded = new Set<string>();
  readonly #wait = new DurationHistogram();
  readonly #run = new DurationHistogram();
  /** Per function (definition index): moving average of one task's run time in ms, measured in
   * the thread, NaN until measured. Per function, so tiny tasks never make a heavy one pipeline.
   * A typed array: updated once per task, and a Map of numbers would allocate each time. */
  #averageRunMs = new Float64Array(64).fill(NaN);

  /** One task of function `index` ran `ms` in its thread. */
  learnRunTime(functionIndex: number, ms: number): void {
    const index = functionIndex % RUN_TIME_SLOTS;
    if (index >= this.#averageRunMs.length) {
      const grown = new Float64Array(Math.min(RUN_TIME_SLOTS, Math.max(index + 1, this.#averageRunMs.length * 2))).fill(NaN);
      grown.set(this.#averageRunMs);
      this.#averageRunMs = grown;
    }
    const average = this.#averageRunMs[index]!;
    this.#averageRunMs[index] = Number.isNaN(average) ? ms : average * 0.7 + ms * 0.3;
  }

  recordTask(waitMs: number, runMs: number): void {
    this.#wait.record(waitMs);
    this.#run.record(runMs);
  }

  /**
   * How many tasks one thread may hold when the next is of function `index`: ~4 ms of its
   * work; one for long tasks (no head-of-line wait) and for functions not measured yet.
   */
  depth(functionIndex: number): number {
    const index = functionIndex % RUN_TIME_SLOTS;
    const average = index < this.#averageRunMs.length ? this.#averageRunMs[index]! : NaN;
    if (Number.isNaN(average) || average >= 5) return 1;
    return Math.min(MAX_DEPTH, Math.max(2, Math.floor(4 / average)));
  }

  waitMs(): Percentiles {
    return summarize(this.#wait);
  }

  runMs(): Percentiles {
    return summarize(this.#run);
  }
}

function summarize(histogram: DurationHistogram): Percentiles {
  return { p50: histogram.percentile(50), p99: histogram.percentile(99), max: histogram.max / 1000 };
}
