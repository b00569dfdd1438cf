/**
 * Turning a stall (measured on the main thread) and the watchdog's captures (taken while it
 * lasted: the first, and later ones of a long block) into one BlockEvent, with its cause
 * (judged in cause.ts: the process stopped, the main thread parked, a native sync API, a GC
 * pause, JavaScript, or unknown).
 */
// From node:timers, not the globals: a test's fake timers must not stop the monitor.
import { clearImmediate, clearTimeout, setImmediate, setTimeout } from 'node:timers';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { named } from '../shared/frames.js';
import type { BlockEvent, StackFrame } from '../types.js';
import type { WatchdogMessage } from '../watchdog/protocol.js';
import type { Stall } from './heartbeat.js';
import { preloadMaps, toStackFrame } from '../shared/sourcemaps.js';
import { parseStack } from '../shared/stack-text.js';
import { StackTrail, framesOfStackText } from '../shared/stack-trail.js';
import { attributeRouteFrames } from '../shared/route-frames.js';
import { hostTime, judgeCause, mainThreadTime, watchdogLooked, type MainThreadTime } from './cause.js';

type CaptureMessage = Extract<WatchdogMessage, { type: 'capture' }>;
type RestackMessage = Extract<WatchdogMessage, { type: 'restack' }>;

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
/**
 * ms to wait, after a block, for the watchdog to poll once more (it polls every threshold/4, at
 * most 25 ms): a gap in its own timeline is known only then. The timer holds the loop open,
 * so a script that blocks and ends still gets its event, this much later at most.
 */
const LOOK_WAIT = 60;
const LOOK_WAIT_LONGEST = 250;

export interface BlockAssemblerOptions {
  threshold: number;
  sourceMaps: boolean;
  emit(event: BlockEvent): void;
  /** The heartbeat's shared buffer, where the watchdog leaves what it saw (watchdog/protocol.ts Evidence). */
  shared?(): Int32Array | undefined;
}

export class BlockAssembler {
  readonly #options: BlockAssemblerOptions;
  /** Stalls not yet emitted: waiting for their capture (`awaiting`) or for the GC entries (with the capture, if any). */
  readonly #pending = new Map<number, { stall: Stall; cancel: () => void; awaiting: boolean; capture?: CaptureMessage }>();
  readonly #captures = new Map<number, CaptureMessage>();
  readonly #restacks = new Map<number, RestackMessage[]>();
  /** The watchdog's samples of the main thread's time, read as each block ends (see onStall). */
  readonly #mainTime = new Map<number, MainThreadTime | undefined>();
  readonly #hangs = new Set<number>();
  readonly #native: Interval[] = [];
  readonly #gc: Interval[] = [];
  /** The wrapped native call running now and when it started (no object per call: hot path). */
  #nativeCall: string | undefined;
  #nativeStart = 0;
  #observer: PerformanceObserver | undefined;
  #idle: Array<() => void> = [];
  /** The events waiting for their source maps, in order: one emitted after another. */
  #mapping: Promise<void> | undefined;

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
    this.#nativeCall = call;
    this.#nativeStart = performance.now();
  }

  nativeExit(call: string): void {
    if (this.#nativeCall !== call) return;
    this.#nativeCall = undefined;
    const end = performance.now();
    // Only a call long enough to cover half of a block can be its cause: the rest (nearly every
    // statSync or existsSync) is not remembered, which keeps the wrapper's cost per call small.
    if (end - this.#nativeStart >= COVERAGE * this.#options.threshold) {
      remember(this.#native, { start: this.#nativeStart, end, call });
    }
  }

  onStall(stall: Stall): void {
    // Read now, while the block has just ended: the watchdog's record for it is complete, and a
    // block that follows at once (before this one is judged) reuses the record.
    const shared = this.#options.shared?.();
    this.#mainTime.set(stall.seq, shared === undefined ? undefined : mainThreadTime(shared, stall.seq));
    while (this.#mainTime.size > 8) this.#mainTime.delete(this.#mainTime.keys().next().value as number);
    const capture = this.#captures.get(stall.seq);
    if (capture !== undefined || !stall.captureUnderWay) {
      this.#captures.delete(stall.seq);
      this.#later(stall, capture);
      return;
    }
    const timer = setTimeout(() => this.#finish(stall.seq, undefined), CAPTURE_WAIT);
    timer.unref();
    this.#pending.set(stall.seq, { stall, cancel: () => clearTimeout(timer), awaiting: true });
  }

  onCapture(capture: CaptureMessage): void {
    const pending = this.#pending.get(capture.seq);
    if (pending !== undefined) {
      // After the messages queued behind this one (a 'hang' for the same block).
      pending.cancel();
      this.#later(pending.stall, capture);
      return;
    }
    this.#captures.set(capture.seq, capture);
    // A capture for a stall the main thread did not count (it ended just under the threshold).
    while (this.#captures.size > 4) this.#captures.delete(this.#captures.keys().next().value as number);
  }

  /** A later stack of a long block, kept (a few per second at most) until the block ends. */
  onRestack(message: RestackMessage): void {
    let list = this.#restacks.get(message.seq);
    if (list === undefined) {
      list = [];
      this.#restacks.set(message.seq, list);
      while (this.#restacks.size > 4) this.#restacks.delete(this.#restacks.keys().next().value as number);
    }
    list.push(message);
    // Bounded for an endless block: the first ones and the latest are what matter.
    if (list.length > 64) list.splice(8, 1);
  }

  onHang(seq: number): void {
    this.#hangs.add(seq);
    while (this.#hangs.size > 4) this.#hangs.delete(this.#hangs.values().next().value as number);
  }

  /** Heartbeat values of the stalls still waiting for the watchdog's capture. */
  awaitingCapture(): number[] {
    return [...this.#pending].filter(([, pending]) => pending.awaiting).map(([seq]) => seq);
  }

  /**
   * The process is exiting: emit now, synchronously, every stall still pending and the one the
   * last tick was in (`open`), with the captures the watchdog handed over at exit. No turn of
   * the loop will come for the timers and immediates they were waiting on.
   */
  flushAtExit(open: Stall | undefined, captures: readonly CaptureMessage[], hangs: readonly number[]): void {
    for (const seq of hangs) this.onHang(seq);
    const handed = new Map(captures.map((capture) => [capture.seq, capture]));
    this.#takeGcRecords();
    if (open !== undefined) {
      this.#pending.set(open.seq, { stall: open, cancel: () => undefined, awaiting: open.captureUnderWay });
      const shared = this.#options.shared?.();
      this.#mainTime.set(open.seq, shared === undefined ? undefined : mainThreadTime(shared, open.seq));
    }
    for (const [seq, pending] of [...this.#pending]) {
      const capture = pending.capture ?? handed.get(seq) ?? this.#captures.get(seq);
      this.#captures.delete(seq);
      this.#finish(seq, capture);
    }
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

  /**
   * Finish two check phases later, once the GC entries of the block have been delivered. Node
   * hands a GC entry to JavaScript from a native immediate, which queues the observer's
   * dispatch as a JS immediate behind any already queued: one hop (as before) judged the block
   * before its own collection was known, and a long full GC followed by a little JavaScript was
   * 'js' (measured: 6 of 6 with the request walk on, 2 of 6 without). The second hop runs after
   * that dispatch; takeRecords() then picks up anything still buffered.
   */
  #later(stall: Stall, capture: CaptureMessage | undefined): void {
    let timer: NodeJS.Timeout | undefined;
    // A long block may be a stopped process, whose watchdog resumes with it but, on a loaded
    // host, may take longer than LOOK_WAIT to run its look (the gap that says 'host'): wait
    // longer for a long block, whose event is late by a small share of it at most.
    const deadline = performance.now() + Math.max(LOOK_WAIT, Math.min(LOOK_WAIT_LONGEST, stall.duration / 4));
    const shared = this.#options.shared?.();
    // Then, at most LOOK_WAIT ms more, until the watchdog has polled since the block ended.
    const afterLook = (): void => {
      if (shared === undefined || watchdogLooked(shared, stall.seq) || performance.now() >= deadline) {
        this.#takeGcRecords();
        this.#whenMapped(stall.seq, capture, () => this.#finish(stall.seq, capture));
        return;
      }
      timer = setTimeout(afterLook, 2);
    };
    let immediate = setImmediate(() => {
      immediate = setImmediate(afterLook);
    });
    const cancel = (): void => {
      clearImmediate(immediate);
      if (timer !== undefined) clearTimeout(timer);
    };
    const pending = { stall, cancel, awaiting: false };
    this.#pending.set(stall.seq, capture === undefined ? pending : { ...pending, capture });
  }

  /**
   * `finish` once the source maps of the block's stacks are loaded (sourcemaps.ts preloadMaps:
   * read asynchronously, decoded a map per turn), so that mapping them is never a long block of
   * the monitor's own; at once when they are in hand (or sourceMaps is off), and always in the
   * order the blocks ended.
   */
  #whenMapped(seq: number, capture: CaptureMessage | undefined, finish: () => void): void {
    const loading = this.#options.sourceMaps ? this.#preload(seq, capture) : undefined;
    if (loading === undefined && this.#mapping === undefined) {
      finish();
      return;
    }
    const chain = (this.#mapping ?? Promise.resolve())
      .then(() => loading)
      .then(finish)
      .catch((error: unknown) => {
        // As from the timer it would have run in: a listener's error is the app's to see.
        setImmediate(() => {
          throw error;
        });
      })
      .finally(() => {
        if (this.#mapping === chain) this.#mapping = undefined;
      });
    this.#mapping = chain;
  }

  #preload(seq: number, capture: CaptureMessage | undefined): Promise<void> | undefined {
    const files = new Set<string>();
    const texts = [capture?.stackText ?? '', ...(this.#restacks.get(seq) ?? []).map((restack) => restack.stackText)];
    for (const text of texts) for (const frame of parseStack(text)) files.add(frame.file);
    const scripts =
      capture === undefined || capture.stackText !== ''
        ? []
        : capture.frames.flatMap((frame) => {
            const script = capture.scripts[frame.scriptId];
            return script === undefined ? [] : [script];
          });
    return preloadMaps(files, scripts);
  }

  #takeGcRecords(): void {
    const records = this.#observer?.takeRecords() ?? [];
    for (const entry of records) remember(this.#gc, { start: entry.startTime, end: entry.startTime + entry.duration });
  }

  #finish(seq: number, capture: CaptureMessage | undefined): void {
    const pending = this.#pending.get(seq);
    if (pending === undefined) return;
    this.#pending.delete(seq);
    pending.cancel();
    const mainTime = this.#mainTime.get(seq);
    this.#mainTime.delete(seq);
    const { stall } = pending;
    // A capture that landed after the block ended says nothing about it: drop its context too.
    const landed = capture === undefined ? undefined : this.#stackOf(capture);
    const trail = this.#trailOf(stall.seq, landed, capture, performance.timeOrigin + stall.end);
    const latest = trail.latest;
    // Adapters' named handler frames give the route after any `await` chain (route-frames.ts).
    // The latest stack is what a long block is doing now; the request is the first capture's.
    let { stack, context } = attributeRouteFrames(latest?.stack ?? [], landed === undefined ? undefined : capture?.context);
    const native = largest(this.#native, stall);
    // The capture's own share (Debugger.enable walks the heap: hundreds of ms on a large one)
    // is not the app's: judged against the rest, a long collection stays 'gc'.
    const appTime = Math.max(1, stall.duration - (capture?.ownMs ?? 0));
    const cover = (interval: Interval | undefined): boolean =>
      interval !== undefined && overlap(interval, stall) >= COVERAGE * appTime;
    // Collections are summed: one stall can hold several (a scavenge, then a full mark-compact).
    const gcTime = this.#gc.reduce((sum, interval) => sum + overlap(interval, stall), 0);
    const from = performance.timeOrigin + stall.start;
    const to = performance.timeOrigin + stall.end;
    const shared = this.#options.shared?.();
    const cause = judgeCause({
      from,
      to,
      ownMs: capture?.ownMs ?? 0,
      native: cover(native),
      gc: gcTime >= COVERAGE * appTime,
      stack: stack.length > 0,
      main: mainTime,
      hostMs: shared === undefined ? 0 : hostTime(shared, from, to),
      pollMs: stall.pollMs,
      threshold: this.#options.threshold,
    });
    // The process was not running: no frame of the app's is to blame, nor its request.
    if (cause === 'host') {
      stack = [];
      context = undefined;
    }
    const event: BlockEvent = named({
      kind: this.#hangs.delete(seq) ? 'hang' : 'block',
      duration: Math.round(stall.duration),
      threshold: this.#options.threshold,
      startedAt: Math.round(from),
      stack,
      cause,
    });
    if (context !== undefined) event.context = context;
    if (native?.call !== undefined && cover(native) && cause !== 'host') event.call = native.call;
    if (stack.length > 0 && latest?.late === true) event.stackLate = true;
    if (cause !== 'host' && trail.samples > 1) {
      event.stacks = trail.stacks().map((frames) => attributeRouteFrames(frames, undefined).stack);
      event.stacksSeenAt = trail.seenAt();
    }
    named(event);
    try {
      this.#options.emit(event);
    } finally {
      if (this.#pending.size === 0) this.#flushIdle();
    }
  }

  /**
   * The quick stack text when the watchdog took one, else the paused frames; undefined when
   * the capture landed after the block had ended.
   *
   * The watchdog's "still blocked" check reads the heartbeat, which moves only in the timers
   * phase, so it cannot see a block that ended moments before its requests were handled. The
   * main thread handles them late when V8 does not service interrupts during the block: Node 26
   * does not, for a whole call of a function running Maglev code while its Turbofan tier-up is
   * pending (a hot function, once per tier-up). They then run outside JavaScript (the quick
   * stack holds only its own frames, and the pause sent with it lands in whatever runs next) or
   * in Node's own loop code (timers, GC observers) before the next heartbeat.
   */
  #stackOf(capture: CaptureMessage): StackFrame[] | undefined {
    const { sourceMaps } = this.#options;
    if (capture.stackText !== '') return framesOfStackText(capture.stackText, sourceMaps);
    const stack = capture.frames.map((frame) => toStackFrame(frame, capture.scripts[frame.scriptId], sourceMaps));
    // Only Node's own frames: the loop's code that ran after the block, not what blocked.
    if (stack.length > 0 && stack.every((frame) => frame.file.startsWith('node:'))) return undefined;
    return stack;
  }

  /** The first stack (when it landed in the block) and the later ones of a long block. */
  #trailOf(seq: number, landed: StackFrame[] | undefined, capture: CaptureMessage | undefined, endedAt: number): StackTrail {
    const trail = new StackTrail();
    if (landed !== undefined) trail.add(capture?.stackAt ?? 0, landed, capture?.stackLate === true);
    // A later stack taken in the block's last moments may be of what ran after the blocking
    // work, in the same tick (the heartbeat moves only in the timers phase): measured, a restack
    // sent as a 400 ms loop ended named the code that printed its result. Left out.
    const tail = Math.max(20, this.#options.threshold / 2);
    for (const restack of this.#restacks.get(seq) ?? []) {
      if (restack.at > endedAt - tail) continue;
      const frames = framesOfStackText(restack.stackText, this.#options.sourceMaps);
      if (frames !== undefined) trail.add(restack.at, frames, restack.stackLate);
    }
    this.#restacks.delete(seq);
    return trail;
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
