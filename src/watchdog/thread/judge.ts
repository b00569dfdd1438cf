/**
 * What the watchdog sees that tells a block's cause apart, for the main thread to judge with
 * (monitor/cause.ts): the main thread's own CPU time and state during a stall, and gaps in the
 * watchdog's own timeline.
 *
 * - The main thread's time, from /proc/self/task/<pid>/schedstat (ns on a CPU, ns waiting for
 *   one) and .../stat (state R/S/D/T; utime+stime in clock ticks where schedstat is missing).
 *   The main thread's tid is the pid. A pread of both costs ~8 µs (measured on Linux 6, Node 20,
 *   a loaded 2-core VM), and is taken only while the heartbeat is stale, so an idle service pays
 *   nothing for it. Works on every Node; `process.threadCpuUsage()` (Node 22.19+/23.9+) reads
 *   the calling thread only, which is of no use from here.
 * - Its own clock: a stopped process (SIGSTOP, a paused VM) stops every thread, the watchdog
 *   too, so the watchdog finds its own poll far late once it runs again. That gap, not the main
 *   thread, is the evidence for 'host'; it works on every platform.
 *
 * Where /proc is missing (macOS, Windows) only the gaps are known: the main thread then judges
 * 'js'/'native'/'gc'/'unknown' as it did before, and 'wait' is never said.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { EVIDENCE_OFFSET, Evidence, Slot, evidenceRecord } from '../protocol.js';

/** One look at the main thread. */
export interface MainSample {
  /** Epoch ms. */
  at: number;
  /** ms on a CPU since the thread started (schedstat's ns, else utime+stime ticks). */
  runMs: number;
  /** ms runnable but waiting for a CPU, since it started; NaN when unknown. */
  queueMs: number;
  /** /proc state letter: R running, S sleeping, D in uninterruptible I/O, T stopped, … */
  state: string;
}

/**
 * The process's CPU time, µs, all threads: ~1 µs a call (getrusage), on every platform, so a
 * poll can afford it.
 */
function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** Linux's USER_HZ, the unit of utime and stime in /proc/<pid>/stat (100 on every arch Node runs on). */
const CLOCK_TICK_MS = 10;

export class MainThreadWatch {
  readonly #shared: Int32Array;
  readonly #evidence: Float64Array;
  readonly #threshold: number;
  #statFd: number | undefined;
  #schedFd: number | undefined;
  #procFailed = false;
  readonly #buffer = Buffer.alloc(512);
  /** From construction: a process stopped before the first poll has a gap too. */
  #lastTickAt: number | undefined = performance.now();
  /** The whole process's CPU time (µs, every thread) at the last poll. */
  #lastCpu = cpuMicros();
  #first: MainSample | undefined;
  #firstSeq = 0;

  constructor(buffer: SharedArrayBuffer, threshold: number) {
    this.#shared = new Int32Array(buffer);
    this.#evidence = new Float64Array(buffer, EVIDENCE_OFFSET, Evidence.SIZE);
    this.#threshold = threshold;
    // From now on the main thread waits for this thread's next poll before judging a block (a
    // process stopped before that poll has a gap too, which only that poll can see).
    Atomics.store(this.#shared, Slot.SEEN, Atomics.load(this.#shared, Slot.HEARTBEAT));
  }

  /**
   * Called on every poll, with the heartbeat value seen, how stale it is (ms, by the watchdog's
   * clock) and how long the poll meant to sleep (a poll that sleeps longer when idle must say
   * so, or its sleep reads as a gap). Returns the ms by which this poll came late
   * when the watchdog itself was not running (0 otherwise): that time is not the app's.
   */
  look(now: number, beat: number, stale: number, interval: number): number {
    const previous = this.#lastTickAt;
    this.#lastTickAt = now;
    const cpu = cpuMicros();
    const cpuMs = (cpu - this.#lastCpu) / 1000;
    this.#lastCpu = cpu;
    let late = 0;
    if (previous !== undefined) {
      const lateness = now - previous - interval;
      // Only a gap that could cover half of a block is worth keeping: anything shorter cannot
      // make a block 'host' (and scheduling noise of a few ms is everywhere on a busy machine).
      // The noise allowed grows with the sleep, but only up to a poll's (a quarter threshold):
      // an idle watchdog sleeps about a threshold at a time, and 3 × that (~340 ms at the
      // default) hid every stop shorter than it. And only when the process hardly ran
      // meanwhile: this thread alone may be late (starting up, or starved while the main
      // thread computes on a busy host), and then the block is the app's. Measured: a stopped
      // process used ~0 ms of CPU over its gap; a script whose last step blocked while the
      // watchdog was still starting, about all of it.
      const noise = 3 * Math.min(interval, Math.max(1, this.#threshold / 4));
      if (lateness >= Math.max(this.#threshold / 2, noise) && cpuMs < 0.5 * (now - previous)) {
        this.#recordGap(performance.timeOrigin + previous + interval, performance.timeOrigin + now);
        late = lateness;
      }
    }
    // Sampled from half the threshold on, so the window covers most of any block reported.
    if (stale >= this.#threshold / 2) this.#sampleStall(beat);
    // No notify: the main thread looks for it on a short timer (monitor/blocks.ts), rarely.
    Atomics.store(this.#shared, Slot.SEEN, beat);
    return late;
  }

  /**
   * The main thread was just seen idle in its loop's poll: a block that follows in the same beat
   * began after now, and its record starts from its own first sample, not from an idle one.
   */
  forget(): void {
    this.#first = undefined;
  }

  /** The main thread now, or undefined without /proc. */
  sample(): MainSample | undefined {
    if (this.#procFailed) return undefined;
    try {
      if (this.#statFd === undefined) {
        this.#statFd = openSync(`/proc/self/task/${process.pid}/stat`, 'r');
        try {
          this.#schedFd = openSync(`/proc/self/task/${process.pid}/schedstat`, 'r');
        } catch {
          // A kernel without CONFIG_SCHED_INFO: stat's ticks and state still say enough.
          this.#schedFd = undefined;
        }
      }
      const length = readSync(this.#statFd, this.#buffer, 0, this.#buffer.length, 0);
      const stat = this.#buffer.toString('latin1', 0, length);
      // The command name (field 2) is in parentheses and may hold spaces: count from after it.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const state = fields[0] ?? '?';
      let runMs = (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
      let queueMs = Number.NaN;
      if (this.#schedFd !== undefined) {
        const schedLength = readSync(this.#schedFd, this.#buffer, 0, this.#buffer.length, 0);
        const [run, wait] = this.#buffer.toString('latin1', 0, schedLength).split(' ');
        runMs = Number(run) / 1e6;
        queueMs = Number(wait) / 1e6;
      }
      if (!Number.isFinite(runMs)) throw new Error('unexpected /proc format');
      return { at: performance.timeOrigin + performance.now(), runMs, queueMs, state };
    } catch {
      this.#procFailed = true;
      this.close();
      return undefined;
    }
  }

  close(): void {
    for (const fd of [this.#statFd, this.#schedFd]) {
      if (fd === undefined) continue;
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
    this.#statFd = undefined;
    this.#schedFd = undefined;
  }

  #sampleStall(seq: number): void {
    const sample = this.sample();
    if (sample === undefined) return;
    const at = evidenceRecord(seq);
    const evidence = this.#evidence;
    if (this.#first === undefined || this.#firstSeq !== seq) {
      this.#first = sample;
      this.#firstSeq = seq;
      // SEQ last of a new record's fields and first cleared: a reader that checks it before and
      // after never takes one stall's samples for another's.
      evidence[at + Evidence.SEQ] = 0;
      evidence[at + Evidence.FIRST_AT] = sample.at;
      evidence[at + Evidence.SAMPLES] = 0;
      evidence[at + Evidence.PARKED] = 0;
    }
    const first = this.#first;
    evidence[at + Evidence.LAST_AT] = sample.at;
    evidence[at + Evidence.RUN_MS] = sample.runMs - first.runMs;
    evidence[at + Evidence.QUEUE_MS] = sample.queueMs - first.queueMs;
    evidence[at + Evidence.SAMPLES] = (evidence[at + Evidence.SAMPLES] ?? 0) + 1;
    if (sample.state === 'S' || sample.state === 'D') evidence[at + Evidence.PARKED] = (evidence[at + Evidence.PARKED] ?? 0) + 1;
    evidence[at + Evidence.SEQ] = seq;
  }

  #recordGap(from: number, to: number): void {
    const evidence = this.#evidence;
    const count = evidence[Evidence.GAP_COUNT] ?? 0;
    const slot = Evidence.GAPS_AT + (count % Evidence.GAPS) * 2;
    evidence[slot] = from;
    evidence[slot + 1] = to;
    evidence[Evidence.GAP_COUNT] = count + 1;
  }
}

/**
 * ms the main thread may take to run the stack expression and still be in the code it was
 * asked about. V8 handles the inspector's request at its next interrupt check (a function entry
 * or a loop's back edge: microseconds in JavaScript); inside native work (JSON.parse of a large
 * body, a C++ addon, a sync child process) only once that returns. See stackTakenLate.
 */
export const LATE_STACK_MS = 20;

/**
 * True when the stack was taken after the blocking work had ended: the expression ran more than
 * LATE_STACK_MS after it was sent, and the main thread was not merely waiting for a CPU all that
 * time (on a loaded machine a thread can be off the CPU for tens of ms: that delays the stack
 * but does not move it). Without /proc the wait for a CPU is unknown, and the bound is widened
 * to half the threshold.
 */
export function stackTakenLate(
  sentAt: number,
  ranAt: number | undefined,
  before: MainSample | undefined,
  after: MainSample | undefined,
  threshold: number,
): boolean {
  if (ranAt === undefined) return false;
  const latency = ranAt - sentAt;
  if (before === undefined || after === undefined || Number.isNaN(after.queueMs - before.queueMs)) {
    return latency > Math.max(LATE_STACK_MS, threshold / 2);
  }
  if (latency <= LATE_STACK_MS) return false;
  const queued = after.queueMs - before.queueMs;
  return latency - queued > LATE_STACK_MS;
}
