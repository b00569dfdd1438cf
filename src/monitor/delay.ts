/**
 * Loop delay and utilisation. The delay histogram and the per-second timeline both come from
 * the heartbeat's lateness (how late each beat's timer ran); measured block durations feed
 * `max` too, so a single 300 ms block is never averaged away.
 */
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import type { DelayStats, TimelinePoint } from '../types.js';

/*
 * No `monitorEventLoopDelay`: it samples with a libuv timer of its own, and every wake-up of an
 * idle loop costs ~0.1 ms of CPU on a small VM (50 a second at a 20 ms resolution: 5.3 ms of CPU
 * per second measured alone, BENCHMARKS.md "Idle cost"). The heartbeat is the same kind of
 * sampler (a timer whose lateness is the loop's delay), already running: its lateness is
 * recorded instead, at the heartbeat's resolution (20 ms while the loop is busy, 0.9 of the
 * threshold while it idles, when there is no delay to sample).
 */
const TIMELINE_LENGTH = 3600;

type EventLoopUtilization = ReturnType<typeof performance.eventLoopUtilization>;
/**
 * The histograms of a stopped sampler, kept for the next one. Node 20 never gave back the
 * memory of a `monitorEventLoopDelay()` histogram (measured: 147 MiB of RSS after 1000
 * create/enable/disable cycles, gc() run; BENCHMARKS.md "Start and stop"), so a process that
 * starts and stops monitors (tests, `expectNoBlock`) reuses its histograms rather than make new
 * ones. Module scope on purpose: each loaded copy of loopguard keeps at most one pair, and
 * nothing process-wide.
 */
let spare: { delay: RecordableHistogram; second: RecordableHistogram } | undefined;

export class DelaySampler {
  readonly since = epochNow();
  /** Heartbeat lateness in µs since the start. */
  #histogram: RecordableHistogram;
  /** Heartbeat lateness in µs over the current second. */
  #second: RecordableHistogram;
  #secondMaxMs = 0;
  #longestBlockMs = 0;
  #eluStart: EventLoopUtilization = performance.eventLoopUtilization();
  #eluLast: EventLoopUtilization = this.#eluStart;
  #timeline: TimelinePoint[] = [];
  #final: DelayStats | undefined;

  /**
   * No timer of its own: the owner calls sample() once a second (the monitor does, from the
   * heartbeat: a wake-up of an idle loop the beat makes anyway).
   */
  constructor() {
    const reused = spare;
    spare = undefined;
    this.#histogram = reused?.delay ?? createHistogram();
    this.#second = reused?.second ?? createHistogram();
    this.#histogram.reset();
    this.#second.reset();
  }

  /** How late a heartbeat came, in ms (0 when on time). */
  recordLateness(ms: number): void {
    if (this.#final !== undefined) return;
    const us = Math.max(1, Math.round(ms * 1000));
    this.#histogram.record(us);
    this.#second.record(us);
    if (ms > this.#secondMaxMs) this.#secondMaxMs = ms;
  }

  /** A block measured by the heartbeat: never hidden by the histogram's resolution or averaging. */
  recordBlock(ms: number): void {
    if (ms > this.#longestBlockMs) this.#longestBlockMs = ms;
    if (ms > this.#secondMaxMs) this.#secondMaxMs = ms;
  }

  delay(): DelayStats {
    if (this.#final !== undefined) return { ...this.#final };
    const h = this.#histogram;
    const ms = (us: number): number => round(us / 1000);
    if (h.count === 0) {
      const max = round(this.#longestBlockMs);
      return { min: 0, max, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 };
    }
    return {
      min: ms(h.min),
      max: Math.max(ms(h.max), round(this.#longestBlockMs)),
      mean: ms(h.mean),
      stddev: round(h.stddev / 1000),
      p50: ms(h.percentile(50)),
      p90: ms(h.percentile(90)),
      p99: ms(h.percentile(99)),
    };
  }

  utilization(): number {
    return round(performance.eventLoopUtilization(this.#eluStart).utilization, 4);
  }

  timeline(): TimelinePoint[] {
    return this.#timeline.slice();
  }

  stop(): void {
    if (this.#final !== undefined) return;
    // What stats() of a stopped monitor shows: its histograms may serve the next one.
    this.#final = this.delay();
    spare ??= { delay: this.#histogram, second: this.#second };
  }

  /** One point of the timeline: the second since the last one. */
  sample(): void {
    if (this.#final !== undefined) return;
    const now = performance.eventLoopUtilization();
    const utilization = performance.eventLoopUtilization(now, this.#eluLast).utilization;
    this.#eluLast = now;
    const second = this.#second;
    const ms = (us: number): number => round(us / 1000);
    this.#timeline.push({
      t: epochNow(),
      p50: second.count === 0 ? 0 : ms(second.percentile(50)),
      p99: second.count === 0 ? 0 : ms(second.percentile(99)),
      max: round(this.#secondMaxMs),
      utilization: round(utilization, 4),
    });
    if (this.#timeline.length > TIMELINE_LENGTH) this.#timeline.shift();
    second.reset();
    this.#secondMaxMs = 0;
  }
}

/** Epoch ms from the monotonic clock: a test's fake Date must not skew the timeline. */
function epochNow(): number {
  return Math.round(performance.timeOrigin + performance.now());
}

function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
