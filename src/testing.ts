/**
 * loopguard/testing: make "this never blocks the loop for more than N ms" a failing test.
 * Works in any runner (vitest, node:test, mocha): it only needs the main thread's loop.
 */
import { clearInterval, setInterval } from 'node:timers';
import { performance } from 'node:perf_hooks';
import { BlockedError } from './errors.js';
import { runningMonitor, startMonitor, type InternalMonitor } from './monitor/monitor.js';
import { named, routeOf, siteOf } from './shared/frames.js';
import { checkFunction, checkNumber, checkOptionsObject } from './shared/validate.js';
import type { BlockEvent } from './types.js';

export interface ExpectNoBlockOptions {
  /** ms the loop may be blocked. @default 50 */
  threshold?: number;
}

/**
 * Run `fn` (sync or async) and resolve if the event loop was never blocked longer than
 * `threshold` while it ran; otherwise reject with a {@link BlockedError} carrying the block.
 * Uses the running monitor when there is one, else starts a quiet one for the call.
 */
export async function expectNoBlock(fn: () => unknown, options?: ExpectNoBlockOptions): Promise<void> {
  checkFunction('fn', fn);
  const given = checkOptionsObject('options', options, ['threshold']);
  const threshold = given['threshold'] === undefined ? 50 : checkNumber('threshold', given['threshold'], { min: 1 });

  // The monitor keeps nothing alive, but this call must be able to wait for it.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    await check(fn, threshold);
  } finally {
    clearInterval(keepAlive);
  }
}

async function check(fn: () => unknown, threshold: number): Promise<void> {
  let monitor = runningMonitor();
  const temporary = monitor === undefined;
  monitor ??= startMonitor({ threshold, log: false, hangTimeout: 0 }) as InternalMonitor;
  await monitor.ready;
  // A running monitor with a higher threshold would not see the smaller blocks: time the
  // loop ourselves meanwhile (without a stack for those).
  const backstop = monitor.threshold > threshold ? new LatenessProbe(threshold) : undefined;
  const blocks: BlockEvent[] = [];
  // The monotonic clock, as block events use it: fake timers may have replaced Date.
  const started = performance.timeOrigin + performance.now();
  const listener = (event: BlockEvent): void => {
    if (event.kind !== 'sync-call' && event.duration > threshold && event.startedAt >= started - 25) {
      blocks.push(event);
    }
  };
  monitor.on('block', listener);
  try {
    await fn();
    await monitor.settled();
  } finally {
    monitor.off('block', listener);
    backstop?.stop();
    if (temporary) await monitor.stop();
  }
  const worst =
    blocks.sort((a, b) => b.duration - a.duration)[0] ??
    backstop?.worst(threshold, monitor.threshold, started);
  if (worst !== undefined) throw new BlockedError(describe(worst, threshold), worst);
}

function describe(event: BlockEvent, threshold: number): string {
  const site = event.stack.length > 0 || event.call !== undefined ? ` in ${siteOf(event)}` : '';
  const route = routeOf(event.context);
  return (
    `expected the event loop never to be blocked for more than ${threshold} ms, ` +
    `but it was blocked for ${event.duration} ms${site}${route === undefined ? '' : ` (${route})`}`
  );
}

/** Measures how late a short timer fires, for blocks under the running monitor's threshold. */
class LatenessProbe {
  readonly #interval: number;
  readonly #timer: NodeJS.Timeout;
  #last = performance.now();
  #worstMs = 0;
  #worstAt = 0;

  constructor(threshold: number) {
    this.#interval = Math.max(1, Math.floor(threshold / 4));
    this.#timer = setInterval(() => this.#measure(), this.#interval);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    // A block that ended just now has not been followed by a tick yet.
    this.#measure();
  }

  #measure(): void {
    const now = performance.now();
    const late = now - this.#last - this.#interval;
    this.#last = now;
    if (late > this.#worstMs) {
      this.#worstMs = late;
      this.#worstAt = performance.timeOrigin + now - late;
    }
  }

  worst(threshold: number, monitorThreshold: number, started: number): BlockEvent | undefined {
    if (this.#worstMs <= threshold) return undefined;
    return named({
      kind: 'block',
      duration: Math.round(this.#worstMs),
      threshold: monitorThreshold,
      startedAt: Math.max(started, Math.round(this.#worstAt)),
      stack: [],
      cause: 'unknown',
    });
  }
}

export { BlockedError } from './errors.js';
