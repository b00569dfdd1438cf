/**
 * The loop's delay and utilisation over a recent window, for the exporters: since the
 * previous read, never since start. A cumulative number trips ever later in a long-running
 * process (@fastify/under-pressure #294): a week of calm averages a bad minute away.
 *
 * Each exporter owns one window, a histogram reset on read: the monitor's histogram counts
 * since start and a Node histogram cannot be subtracted from, so a view of the monitor's own
 * could not be windowed. The window records the lateness of the monitor's own heartbeat, the
 * same samples as `stats().delay`, so it wakes the loop no more often than the monitor does:
 * a `monitorEventLoopDelay` of its own cost an idle process about 2 ms of CPU a second at 10
 * wake-ups a second (BENCHMARKS.md, "Telemetry"). A stand-in monitor without that feed (a
 * test double, another build's) gets such a histogram, at {@link RESOLUTION}.
 */
import { createHistogram, monitorEventLoopDelay, performance, type IntervalHistogram, type RecordableHistogram } from 'node:perf_hooks';
import type { DelayStats, Monitor } from '../types.js';

/**
 * Only without the heartbeat's feed: ms between two samples, subtracted from each. Coarser than the monitor's 20 ms: every
 * wake-up of an idle loop costs CPU, and measured here (BENCHMARKS.md, "Telemetry") a second
 * histogram at 20 ms added ~3.5 ms of CPU per second to an idle process. At 100 ms it is ten
 * samples a second, plenty for a window of a scrape interval (15–60 s); a block shorter than
 * the gap between two samples can fall between them, so `max` also takes every block the
 * monitor measured ({@link LoopWindow.recordBlock}).
 */
const RESOLUTION = 100;
/**
 * Reads closer together than this give the previous result again: a second scraper or a
 * curl of /metrics right after a scrape would otherwise see a window of a few samples.
 */
const MIN_WINDOW_MS = 1000;

type EventLoopUtilization = ReturnType<typeof performance.eventLoopUtilization>;

export interface WindowReading {
  /** ms, resolution subtracted; `max` includes every block the monitor measured in the window. */
  delay: DelayStats;
  /** 0..1 over the window. */
  utilization: number;
  /** ms the window covered. */
  windowMs: number;
}

/** A monitor that offers its heartbeat's lateness (monitor.ts InternalMonitor.eachLateness). */
type LatenessFeed = { eachLateness(listener: (ms: number) => void): () => void };

export class LoopWindow {
  /** ns samples, each the delay itself (fed) or the sampler's interval plus the delay (own). */
  readonly #histogram: RecordableHistogram | IntervalHistogram;
  /** ms subtracted from each sample: the own sampler's interval, 0 when fed. */
  readonly #offset: number;
  readonly #unsubscribe: () => void;
  #elu: EventLoopUtilization = performance.eventLoopUtilization();
  #startedAt = performance.now();
  #longestBlockMs = 0;
  #last: WindowReading | undefined;
  /** The fed samples' count, min, max, mean and spread, kept as they come (see {@link Moments}). */
  readonly #moments: Moments | undefined;

  constructor(monitor?: Monitor) {
    const feed = monitor as Partial<LatenessFeed> | undefined;
    if (typeof feed?.eachLateness === 'function') {
      const histogram = createHistogram();
      this.#histogram = histogram;
      this.#offset = 0;
      // The percentiles from the histogram; min, max, mean and stddev from the samples.
      const moments = new Moments();
      this.#moments = moments;
      this.#unsubscribe = feed.eachLateness((ms) => {
        // Recorded in ns like the interval histogram, so read() treats both alike; at least 1,
        // since a recordable histogram refuses 0 (an on-time beat).
        histogram.record(Math.max(1, Math.round(ms * 1e6)));
        moments.add(ms);
      });
    } else {
      const histogram = monitorEventLoopDelay({ resolution: RESOLUTION });
      // Its libuv timer is unref'd by Node: it keeps no process alive.
      histogram.enable();
      this.#histogram = histogram;
      this.#moments = undefined;
      this.#offset = RESOLUTION;
      this.#unsubscribe = () => histogram.disable();
    }
  }

  /** A block the monitor measured: a single long one must show in `max` however few samples. */
  recordBlock(ms: number): void {
    if (ms > this.#longestBlockMs) this.#longestBlockMs = ms;
  }

  /** The window since the previous read (at least {@link MIN_WINDOW_MS}), then start a new one. */
  read(): WindowReading {
    const now = performance.now();
    if (this.#last !== undefined && now - this.#startedAt < MIN_WINDOW_MS) return this.#last;
    const h = this.#histogram;
    const ms = (ns: number): number => Math.max(0, ns / 1e6 - this.#offset);
    const moments = this.#moments;
    const delay: DelayStats =
      h.count === 0
        ? { min: 0, max: this.#longestBlockMs, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 }
        : moments !== undefined
          ? {
              min: moments.min,
              max: Math.max(moments.max, this.#longestBlockMs),
              mean: moments.mean,
              stddev: moments.stddev(),
              p50: ms(h.percentile(50)),
              p90: ms(h.percentile(90)),
              p99: ms(h.percentile(99)),
            }
          : {
              min: ms(h.min),
              max: Math.max(ms(h.max), this.#longestBlockMs),
              mean: ms(h.mean),
              stddev: h.stddev / 1e6,
              p50: ms(h.percentile(50)),
              p90: ms(h.percentile(90)),
              p99: ms(h.percentile(99)),
            };
    const elu = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(elu, this.#elu).utilization;
    const reading = { delay, utilization: Number.isFinite(utilization) ? utilization : 0, windowMs: now - this.#startedAt };
    h.reset();
    moments?.reset();
    this.#elu = elu;
    this.#startedAt = now;
    this.#longestBlockMs = 0;
    this.#last = reading;
    return reading;
  }

  stop(): void {
    this.#unsubscribe();
  }
}

/**
 * Count, min, max, mean and variance of the fed samples, updated per sample (Welford's method:
 * no sum of squares to lose precision in). A Node histogram's `mean` and `stddev` walk every
 * one of its buckets, and over the ns range of a lateness that walk took ~0.1 ms and ~0.3 ms
 * (Node 20 and 24): most of a fresh window's read, against a few µs for its three percentiles.
 * One heartbeat feeds one sample, ~10–50 a second, so keeping them here costs nothing.
 */
class Moments {
  #count = 0;
  #mean = 0;
  /** Sum of squared differences from the running mean. */
  #m2 = 0;
  min = 0;
  max = 0;

  add(ms: number): void {
    this.#count += 1;
    if (this.#count === 1) {
      this.min = ms;
      this.max = ms;
    } else {
      if (ms < this.min) this.min = ms;
      if (ms > this.max) this.max = ms;
    }
    const delta = ms - this.#mean;
    this.#mean += delta / this.#count;
    this.#m2 += delta * (ms - this.#mean);
  }

  get mean(): number {
    return this.#mean;
  }

  /** Population standard deviation, as a Node histogram's. */
  stddev(): number {
    return this.#count === 0 ? 0 : Math.sqrt(this.#m2 / this.#count);
  }

  reset(): void {
    this.#count = 0;
    this.#mean = 0;
    this.#m2 = 0;
    this.min = 0;
    this.max = 0;
  }
}
