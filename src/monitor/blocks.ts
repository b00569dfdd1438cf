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
import { StackTrail, framesOfCapture, framesOfStackText } from '../shared/stack-trail.js';
import { attributeRouteFrames } from '../shared/route-frames.js';
import { hostTime, judgeCause, mainThreadTime, watchdogLooked, type MainThreadTime } from './cause.js';

type CaptureMessage = Extract<WatchdogMessage, { type: 'capture' }>;
type RestackMessage = Extract<WatchdogMessage, { type: 'restack' }>;
type MappedMessage = Extract<WatchdogMessage, { type: 'mapped' }>;

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
/**
 * How long a block's event waits for the watchdog's mapped stack before it goes out with the
 * frames as they ran: decoding a 60,000-line map a few ms a turn took 0.3 s here, and several
 * on a loaded host. The timer keeps nothing alive; at exit the event goes out at once.
 */
const MAPPED_WAIT = 10_000;

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
  /** The watchdog's mapped stacks by heartbeat value, and the blocks waiting for theirs. */
  readonly #mapped = new Map<number, MappedMessage>();
  readonly #awaitingMapped = new Map<number, () => void>();
  #watchdogGone = false;

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

  /** The watchdog's mapped stack of a block's capture (it decodes the source maps, not this thread). */
  onMapped(message: MappedMessage): void {
    this.#mapped.set(message.seq, message);
    while (this.#mapped.size > 8) this.#mapped.delete(this.#mapped.keys().next().value as number);
    this.#awaitingMapped.get(message.seq)?.();
  }

  /** The watchdog thread is gone: no mapped stack will come for the blocks waiting for one. */
  watchdogGone(): void {
    this.#watchdogGone = true;
    for (const resolve of [...this.#awaitingMapped.values()]) resolve();
  }

  onHang(seq: number): void {
    this.#hangs.add(seq);
    while (this.#hangs.size > 4) this.#hangs.delete(this.#hangs.values().next().value as number);
  }

  /**
   * Heartbeat values of the stalls still waiting for the watchdog's capture, or for its mapped
   * stack (at exit the watchdog hands over what it has of either).
   */
  awaitingCapture(): number[] {
    return [...this.#pending].filter(([seq, pending]) => pending.awaiting || this.#awaitingMapped.has(seq)).map(([seq]) => seq);
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
    this.#finishPending(handed);
  }

  /** Resolves once every stall seen so far has been emitted. */
  settled(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * The monitor is stopping: emit now every stall still pending (waiting for its GC entries, the
   * watchdog's look or its mapped stack), with the stack in hand (mapped when the watchdog's
   * mapped stack has come, else the frames as they ran), rather than drop it: it happened while
   * the monitor ran. A program that stops the monitor right after a block still sees its event.
   */
  flushPending(): void {
    this.#takeGcRecords();
    this.#finishPending(new Map());
  }

  /** Emit every pending stall now, with the best capture in hand (`handed`: the watchdog's exit copies). */
  #finishPending(handed: ReadonlyMap<number, CaptureMessage>): void {
    for (const [seq, pending] of [...this.#pending]) {
      // The copy handed over at exit carries the mapped stack when the watchdog had it.
      const exitCopy = handed.get(seq);
      const capture = (exitCopy?.mapped !== undefined ? exitCopy : undefined) ?? pending.capture ?? exitCopy ?? this.#captures.get(seq);
      this.#captures.delete(seq);
      this.#finish(seq, capture);
    }
  }

  stop(): void {
    this.#observer?.disconnect();
    for (const resolve of this.#awaitingMapped.values()) resolve();
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
   * `finish` once the watchdog has mapped the block's stacks through their source maps (it
   * reads and decodes them, off this thread: watchdog/thread/entry.ts mapInTurn), at most
   * MAPPED_WAIT later; at once when there is nothing to map, and always in the order the blocks
   * ended.
   */
  #whenMapped(seq: number, capture: CaptureMessage | undefined, finish: () => void): void {
    const loading = capture?.mapping === true && !this.#mapped.has(seq) && !this.#watchdogGone ? this.#waitMapped(seq) : undefined;
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

  #waitMapped(seq: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, MAPPED_WAIT);
      timer.unref();
      const awaiting = this.#awaitingMapped;
      function done(): void {
        clearTimeout(timer);
        awaiting.delete(seq);
        resolve();
      }
      awaiting.set(seq, done);
    });
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
    const mapped = this.#mapped.get(seq);
    this.#mapped.delete(seq);
    this.#awaitingMapped.get(seq)?.();
    const landed = capture === undefined ? undefined : this.#stackOf(capture, mapped);
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
  #stackOf(capture: CaptureMessage, mapped: MappedMessage | undefined): StackFrame[] | undefined {
    if (mapped !== undefined) return mapped.stack ?? undefined;
    if (capture.mapped !== undefined) return capture.mapped ?? undefined;
    // The watchdog maps block stacks, never this thread: without its result (it took longer than
    // MAPPED_WAIT, or the process is exiting) the frames go out as they ran, mapped only
    // through maps this thread already holds (a sync-call event's).
    return framesOfCapture(capture, this.#options.sourceMaps, false);
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
      // Mapped by the watchdog (see #stackOf).
      const frames = restack.stack === undefined ? framesOfStackText(restack.stackText, this.#options.sourceMaps, false) : (restack.stack ?? undefined);
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
