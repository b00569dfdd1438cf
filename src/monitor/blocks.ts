/**
 * Turning a stall (measured on the main thread) and the watchdog's capture (taken while it
 * lasted) into one BlockEvent, with its cause: a native sync API that covered most of it,
 * else a GC pause that did, else JavaScript when frames were captured, else unknown.
 */
// From node:timers, not the globals: a test's fake timers must not stop the monitor.
import { clearImmediate, clearTimeout, setImmediate, setTimeout } from 'node:timers';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import type { BlockEvent, StackFrame } from '../types.js';
import type { WatchdogMessage } from '../watchdog/protocol.js';
import type { Stall } from './heartbeat.js';
import { mapFileFrames, toStackFrame } from '../shared/sourcemaps.js';
import { parseStack } from '../shared/stack-text.js';
import { attributeRouteFrames } from '../shared/route-frames.js';

/** The file V8 gives code evaluated through the inspector. */
const EVALUATED = '<anonymous>';

type CaptureMessage = Extract<WatchdogMessage, { type: 'capture' }>;

interface Interval {
  start: number;
  end: number;
  call?: string;
}

/** How long to wait for a capture the watchdog has started before giving up on it. */
const CAPTURE_WAIT = 3_000;
/** A native call or GC pause is the cause when it covers at least this share of the block. */
const COVERAGE = 0.5;
const KEEP = 32;

export interface BlockAssemblerOptions {
  threshold: number;
  sourceMaps: boolean;
  emit(event: BlockEvent): void;
}

export class BlockAssembler {
  readonly #options: BlockAssemblerOptions;
  readonly #pending = new Map<number, { stall: Stall; cancel: () => void }>();
  readonly #captures = new Map<number, CaptureMessage>();
  readonly #hangs = new Set<number>();
  readonly #native: Interval[] = [];
  readonly #gc: Interval[] = [];
  #nativeNow: Interval | undefined;
  #observer: PerformanceObserver | undefined;
  #idle: Array<() => void> = [];

  constructor(options: BlockAssemblerOptions) {
    this.#options = options;
    try {
      this.#observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
          remember(this.#gc, { start: entry.startTime, end: entry.startTime + entry.duration });
        }
      });
      this.#observer.observe({ entryTypes: ['gc'] });
    } catch {
      this.#observer = undefined;
    }
  }

  nativeEnter(call: string): void {
    this.#nativeNow = { start: performance.now(), end: Number.POSITIVE_INFINITY, call };
  }

  nativeExit(call: string): void {
    const current = this.#nativeNow;
    this.#nativeNow = undefined;
    if (current?.call === call) remember(this.#native, { ...current, end: performance.now() });
  }

  onStall(stall: Stall): void {
    const capture = this.#captures.get(stall.seq);
    if (capture !== undefined || !stall.captureUnderWay) {
      this.#captures.delete(stall.seq);
      this.#later(stall, () => this.#finish(stall.seq, capture));
      return;
    }
    const timer = setTimeout(() => this.#finish(stall.seq, undefined), CAPTURE_WAIT);
    timer.unref();
    this.#pending.set(stall.seq, { stall, cancel: () => clearTimeout(timer) });
  }

  onCapture(capture: CaptureMessage): void {
    const pending = this.#pending.get(capture.seq);
    if (pending !== undefined) {
      // After the messages queued behind this one (a 'hang' for the same block).
      pending.cancel();
      this.#later(pending.stall, () => this.#finish(capture.seq, capture));
      return;
    }
    this.#captures.set(capture.seq, capture);
    // A capture for a stall the main thread did not count (it ended just under the threshold).
    while (this.#captures.size > 4) this.#captures.delete(this.#captures.keys().next().value as number);
  }

  onHang(seq: number): void {
    this.#hangs.add(seq);
    while (this.#hangs.size > 4) this.#hangs.delete(this.#hangs.values().next().value as number);
  }

  /** Resolves once every stall seen so far has been emitted. */
  settled(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  stop(): void {
    this.#observer?.disconnect();
    for (const { cancel } of this.#pending.values()) cancel();
    this.#pending.clear();
    this.#flushIdle();
  }

  /** Finish on the check phase, after the messages and GC entries already queued. */
  #later(stall: Stall, finish: () => void): void {
    const immediate = setImmediate(finish);
    this.#pending.set(stall.seq, { stall, cancel: () => clearImmediate(immediate) });
  }

  #finish(seq: number, capture: CaptureMessage | undefined): void {
    const pending = this.#pending.get(seq);
    if (pending === undefined) return;
    this.#pending.delete(seq);
    pending.cancel();
    const { stall } = pending;
    // Adapters' named handler frames give the route after any `await` chain (route-frames.ts).
    const { stack, context } = attributeRouteFrames(capture === undefined ? [] : this.#stackOf(capture), capture?.context);
    const native = largest(this.#native, stall);
    const cover = (interval: Interval | undefined): boolean =>
      interval !== undefined && overlap(interval, stall) >= COVERAGE * stall.duration;
    // Collections are summed: one stall can hold several (a scavenge, then a full mark-compact),
    // and the capture itself adds main-thread time that is not the app's.
    const gcTime = this.#gc.reduce((sum, interval) => sum + overlap(interval, stall), 0);
    const event: BlockEvent = {
      kind: this.#hangs.delete(seq) ? 'hang' : 'block',
      duration: Math.round(stall.duration),
      threshold: this.#options.threshold,
      startedAt: Math.round(performance.timeOrigin + stall.start),
      stack,
      cause: cover(native) ? 'native' : gcTime >= COVERAGE * stall.duration ? 'gc' : stack.length > 0 ? 'js' : 'unknown',
    };
    if (context !== undefined) event.context = context;
    if (native?.call !== undefined && cover(native)) event.call = native.call;
    try {
      this.#options.emit(event);
    } finally {
      if (this.#pending.size === 0) this.#flushIdle();
    }
  }

  /** The quick stack text when the watchdog took one, else the paused frames. */
  #stackOf(capture: CaptureMessage): StackFrame[] {
    const { sourceMaps } = this.#options;
    if (capture.stackText !== '') {
      // Drop the evaluated expression's own frames, which come first.
      const parsed = parseStack(capture.stackText);
      const first = parsed.findIndex((frame) => frame.file !== EVALUATED);
      const frames = (first === -1 ? [] : parsed.slice(first))
        // `Timeout.run [as _onTimeout]`: the alias says how it was called, not what it is.
        .map((frame) => ({ ...frame, function: frame.function.replace(/ \[as [^\]]+\]$/, '') }));
      if (frames.length > 0) return sourceMaps ? mapFileFrames(frames) : frames;
    }
    return capture.frames.map((frame) => toStackFrame(frame, capture.scripts[frame.scriptId], sourceMaps));
  }

  #flushIdle(): void {
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }
}

function remember(list: Interval[], interval: Interval): void {
  list.push(interval);
  if (list.length > KEEP) list.shift();
}

function overlap(a: Interval, b: { start: number; end: number }): number {
  return Math.max(0, Math.min(a.end, b.end) - Math.max(a.start, b.start));
}

/** The interval that overlaps the stall the most. */
function largest(list: readonly Interval[], stall: Stall): Interval | undefined {
  let best: Interval | undefined;
  let bestOverlap = 0;
  for (const interval of list) {
    const amount = overlap(interval, stall);
    if (amount > bestOverlap) {
      best = interval;
      bestOverlap = amount;
    }
  }
  return best;
}
