/**
 * Loop delay and utilisation. The histogram comes from `monitorEventLoopDelay` (its own
 * libuv timer, resolution subtracted); the per-second timeline from the heartbeat's lateness;
 * measured block durations feed `max` too, so a single 300 ms block is never averaged away.
 */
// From node:timers, not the globals: a test's fake timers must not stop the monitor.
import { clearInterval, setInterval } from 'node:timers';
import { createHistogram, monitorEventLoopDelay, performance, type RecordableHistogram } from 'node:perf_hooks';
import type { DelayStats, TimelinePoint } from '../types.js';

/**
 * ms between two samples of monitorEventLoopDelay; subtracted from what it records. 20 ms, the
 * heartbeat's interval at the default threshold, so that both timers fall due together and
 * wake an idle loop once: each wake-up costs ~80–160 µs of CPU on a small VM. Measured A/B
 * here (idle process, median of 5): the main thread's share of the monitor's idle cost went
 * from 18.4 to 11.5 ms of CPU per second (BENCHMARKS.md). Blocks never depend on it: the
 * heartbeat measures each one exactly.
 */
const RESOLUTION = 20;
const TIMELINE_LENGTH = 3600;
const SAMPLE_INTERVAL = 1000;

type EventLoopUtilization = ReturnType<typeof performance.eventLoopUtilization>;
type DelayHistogram = ReturnType<typeof monitorEventLoopDelay>;

/**
 * The histograms of a stopped sampler, kept for the next one. Node 20 never gives back the
 * memory of a `monitorEventLoopDelay()` histogram (measured: 147 MiB of RSS after 1000
 * create/enable/disable cycles, gc() run; BENCHMARKS.md "Start and stop"), so a process that
 * starts and stops monitors (tests, `expectNoBlock`) would grow by that much. Module scope on
 * purpose: each loaded copy of loopguard keeps at most one pair, and nothing process-wide.
 */
let spare: { delay: DelayHistogram; second: RecordableHistogram } | undefined;

export class DelaySampler {
  readonly since = epochNow();
  #histogram: DelayHistogram;
  /** Heartbeat lateness in µs over the current second. */
  #second: RecordableHistogram;
  #secondMaxMs = 0;
  #longestBlockMs = 0;
  #eluStart: EventLoopUtilization = performance.eventLoopUtilization();
  #eluLast: EventLoopUtilization = this.#eluStart;
  #timeline: TimelinePoint[] = [];
  #timer: NodeJS.Timeout;
  #final: DelayStats | undefined;

  constructor() {
    const reused = spare;
    spare = undefined;
    this.#histogram = reused?.delay ?? monitorEventLoopDelay({ resolution: RESOLUTION });
    this.#second = reused?.second ?? createHistogram();
    this.#histogram.reset();
    this.#second.reset();
    this.#histogram.enable();
    this.#timer = setInterval(() => this.#sample(), SAMPLE_INTERVAL);
    this.#timer.unref();
  }

  /** How late a heartbeat came, in ms (0 when on time). */
  recordLateness(ms: number): void {
    if (this.#final !== undefined) return;
    this.#second.record(Math.max(1, Math.round(ms * 1000)));
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
    const ms = (ns: number): number => round(Math.max(0, ns / 1e6 - RESOLUTION));
    if (h.count === 0) {
      const max = round(this.#longestBlockMs);
      return { min: 0, max, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 };
    }
    return {
      min: ms(h.min),
      max: Math.max(ms(h.max), round(this.#longestBlockMs)),
      mean: ms(h.mean),
      stddev: round(h.stddev / 1e6),
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
    clearInterval(this.#timer);
    this.#histogram.disable();
    spare ??= { delay: this.#histogram, second: this.#second };
  }

  #sample(): void {
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
