/**
 * Judging a block's cause from what was seen while it lasted: the watchdog's samples of the
 * main thread's own time (watchdog/thread/judge.ts: on a CPU, waiting for one, asleep), gaps in
 * the watchdog's own timeline, the wrapped native call and the GC pauses that overlapped it, and
 * whether a stack was caught.
 *
 * Measured on a loaded 2-core Linux VM (Node 20–26): a 400 ms JavaScript loop showed ~200 ms on
 * a CPU and ~200 ms waiting for one (the machine was that busy), Atomics.wait and
 * execSync('sleep 0.4') 0–5 ms on a CPU with the thread asleep in every sample, a 600 ms SIGSTOP
 * a 600 ms gap in the watchdog's own polls. So shares are taken of the time observed, and a block
 * is 'js' however slowly it computed, as long as it computed.
 */
import type { BlockEvent } from '../types.js';
import { EVIDENCE_OFFSET, Evidence, Slot, evidenceRecord } from '../watchdog/protocol.js';

export interface MainThreadTime {
  /** ms between the watchdog's first and last sample of the stall. */
  windowMs: number;
  /** ms of it the main thread ran on a CPU. */
  runMs: number;
  /** ms of it the main thread waited for a CPU; NaN when not known (no schedstat). */
  queueMs: number;
  samples: number;
  /** Samples that found it asleep (S or D). */
  parked: number;
}

export interface CauseInput {
  /** Epoch ms bounds of the block, as the main thread measured it. */
  from: number;
  to: number;
  /** ms of the block that were the capture's own (Debugger.enable), left out of the shares. */
  ownMs: number;
  /** A wrapped native call covered most of it. */
  native: boolean;
  /** GC pauses covered most of it. */
  gc: boolean;
  /** A stack of the blocking code was caught. */
  stack: boolean;
  main: MainThreadTime | undefined;
  /** ms of the block during which the watchdog itself did not run. */
  hostMs: number;
  /**
   * ms of the block the main thread's loop sat in its poll while the beat was due (Stall
   * pollMs): the OS did not run it. 0 when unknown.
   */
  pollMs?: number;
  threshold: number;
}

/** A share of the block at or above this decides. */
const MOST = 0.5;
/**
 * Below this share on a CPU, a main thread that waited for one was starved rather than
 * computing slowly: a JavaScript block on this loaded 2-core VM (load average 5–7) still got
 * 25–40% of a CPU, and an idle loop waits in epoll (asleep), not in the run queue.
 */
const STARVED_RUN = 0.1;
/**
 * The least window of samples to judge from: schedstat's ns are exact over 20 ms; stat's CPU
 * time comes in 10 ms clock ticks and needs a longer look.
 */
const MIN_WINDOW_MS = 20;
const MIN_WINDOW_TICKS_MS = 100;

/**
 * 'host' needs the process to have been held for most of the block, and the app to have
 * computed less than a threshold's worth in it: work that would have blocked the loop on an idle
 * machine too is the app's, however slowly a busy host let it run (measured: a 1.8 s block of
 * JSON work got 0.44 s of CPU, 1.2 s waiting for one; a 290 ms one 84 ms, 137 ms waiting).
 */
export function judgeCause(input: CauseInput): BlockEvent['cause'] {
  const duration = Math.max(1, input.to - input.from - input.ownMs);
  const main = usable(input.main);
  const run = main === undefined ? undefined : main.runMs / main.windowMs;
  const computedLittle = main === undefined || main.runMs < input.threshold;
  // The watchdog stopped with the process: nothing of the app's ran then.
  if (input.hostMs >= MOST * duration && computedLittle) return 'host';
  // The loop was waiting in its poll, its beat due, and did not run: stopped or starved too,
  // seen by the main thread itself. It needs no watchdog (none with stacks: false), nor the
  // watchdog's look after the block, which a loaded host can delay past the main thread's wait
  // for it (blocks.ts LOOK_WAIT; a 600 ms SIGSTOP then read 'unknown' in CI). Only for a block
  // that began while the loop idled: a stop in the middle of the app's own work counts as busy
  // time, and is left to the watchdog's gap.
  if ((input.pollMs ?? 0) >= MOST * duration && computedLittle) return 'host';
  // V8's own account of its pauses, before the thread's state: in a full collection the main
  // thread mostly sleeps while V8's helper threads mark and compact (measured: a 300 ms gc()
  // with the main thread asleep in 20 of 21 samples), which would read as 'wait'.
  if (input.gc) return 'gc';
  if (main !== undefined && run !== undefined) {
    const known = !Number.isNaN(main.queueMs);
    const queued = known ? main.queueMs / main.windowMs : 0;
    // Runnable, but the host gave it (next to) no CPU.
    if (known && queued >= MOST && run < STARVED_RUN && computedLittle) return 'host';
    const parked = known ? 1 - run - queued : main.parked / main.samples;
    if (parked >= MOST) return 'wait';
  }
  if (input.native) return 'native';
  return input.stack ? 'js' : 'unknown';
}

function usable(main: MainThreadTime | undefined): MainThreadTime | undefined {
  if (main === undefined || main.samples < 2) return undefined;
  const least = Number.isNaN(main.queueMs) ? MIN_WINDOW_TICKS_MS : MIN_WINDOW_MS;
  return main.windowMs >= least ? main : undefined;
}

/** The watchdog's samples of the stall at `seq`, if it took any. */
export function mainThreadTime(shared: Int32Array, seq: number): MainThreadTime | undefined {
  const evidence = new Float64Array(shared.buffer, EVIDENCE_OFFSET, Evidence.SIZE);
  const at = evidenceRecord(seq);
  if (evidence[at + Evidence.SEQ] !== seq) return undefined;
  const time: MainThreadTime = {
    windowMs: (evidence[at + Evidence.LAST_AT] ?? 0) - (evidence[at + Evidence.FIRST_AT] ?? 0),
    runMs: evidence[at + Evidence.RUN_MS] ?? 0,
    queueMs: evidence[at + Evidence.QUEUE_MS] ?? Number.NaN,
    samples: evidence[at + Evidence.SAMPLES] ?? 0,
    parked: evidence[at + Evidence.PARKED] ?? 0,
  };
  // Written while we read (the next stall began at once): not this one's.
  return evidence[at + Evidence.SEQ] === seq ? time : undefined;
}

/** ms of [from, to] (epoch) covered by gaps in the watchdog's own timeline. */
export function hostTime(shared: Int32Array, from: number, to: number): number {
  const evidence = new Float64Array(shared.buffer, EVIDENCE_OFFSET, Evidence.SIZE);
  let total = 0;
  for (let gap = 0; gap < Evidence.GAPS; gap++) {
    const start = evidence[Evidence.GAPS_AT + gap * 2] ?? 0;
    const end = evidence[Evidence.GAPS_AT + gap * 2 + 1] ?? 0;
    total += Math.max(0, Math.min(end, to) - Math.max(start, from));
  }
  return total;
}

/** True once the watchdog has polled since the block at `seq` ended, or when it never polled. */
export function watchdogLooked(shared: Int32Array, seq: number): boolean {
  const seen = Atomics.load(shared, Slot.SEEN);
  return seen === 0 || seen > seq;
}
