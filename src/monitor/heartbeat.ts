/**
 * The main thread's side of the watchdog: a heartbeat in a SharedArrayBuffer, the watchdog
 * worker, and the exit handshake. A block is the gap between two heartbeats, measured here
 * on the main thread; the watchdog only adds what it saw while the gap was open.
 */
// From node:timers, not the globals: a test's fake timers must not stop the heartbeat (the
// watchdog would then see one endless block).
import { clearImmediate, clearInterval, setImmediate, setInterval } from 'node:timers';
import { readdirSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { isMainThread, MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { workerUrl } from '../shared/worker-url.js';
import { getGlobal, setGlobal } from '../shared/globals.js';
import { SLOT_COUNT, Slot, State, type WatchdogData, type WatchdogMessage } from '../watchdog/protocol.js';

export interface Stall {
  /** The heartbeat value that went stale (the watchdog's capture carries the same). */
  seq: number;
  /** performance.now() bounds of the block. */
  start: number;
  end: number;
  /**
   * ms. After a fast beat, a lower bound: the gap between heartbeats minus the interval. After
   * a slow one (the loop was idle), the longest busy stretch between two turns of the loop since
   * the last beat: exact for a block on an idle loop, and the short turns of other work in the
   * same interval do not count with it (heartbeat.ts #measure).
   */
  duration: number;
  /**
   * ms of the block during which the loop sat in its poll (libuv's idle time), at least: the
   * beat's timer was due and the loop was waiting for nothing else, yet the beat did not run.
   * The OS did not run this thread then (the process stopped, the VM paused, the host starved
   * it): nothing of the app's blocked the loop (monitor/cause.ts).
   */
  pollMs: number;
  /** Whether the watchdog was capturing a stack for it (a 'capture' message will follow). */
  captureUnderWay: boolean;
}

type CaptureMessage = Extract<WatchdogMessage, { type: 'capture' }>;

/** ms the loop was busy from `at` (libuv's idle time then: `idleAt`) to `now` (idle time `idle`). */
function busySince(at: number, idleAt: number, now: number, idle: number): number {
  return now - at - (idle - idleAt);
}

/** What the exit handler found (see Heartbeat.atExit). */
export interface ExitFindings {
  /** The block the tick now ending was in, when it ran longer than the threshold. */
  open: Stall | undefined;
  /** The watchdog's captures for the heartbeat values asked about. */
  captures: CaptureMessage[];
  /** Heartbeat values of blocks the watchdog wrote a hang report for. */
  hangs: number[];
}

export interface HeartbeatOptions {
  threshold: number;
  hangTimeout: number;
  hangFormat: WatchdogData['hangFormat'];
  http: boolean;
  sourceMaps: boolean;
  stacks: boolean;
  onStall(stall: Stall): void;
  onLateness(ms: number): void;
  /**
   * Once a second, from the beat (the first beat at or after each whole second since start),
   * before the beat's own work: the monitor's one-second figures ride on a wake-up the beat
   * makes anyway instead of timers of their own.
   */
  onSecond?(): void;
  onMessage(message: WatchdogMessage): void;
  onWorkerError(error: Error): void;
}

/** ms the 'exit' handler waits for the watchdog to drop its inspector session. */
const EXIT_HANDSHAKE_TIMEOUT = 200;

/** Why stacks cannot be captured in this process, or undefined when they can. */
export function inspectorUnavailableReason(): string | undefined {
  if (process.features.inspector !== true) return 'this Node.js was built without the inspector';
  // connectToMainThread() reaches the process's main thread, not this worker's own loop.
  if (!isMainThread) return 'the monitor runs in a worker thread; stacks are captured on the main thread only';
  try {
    const inspector = createRequire(import.meta.url)('node:inspector') as { url(): string | undefined };
    if (inspector.url() !== undefined) return 'the inspector is open for a debugger (inspector.url() is set)';
  } catch (error) {
    return `node:inspector cannot be loaded (${error instanceof Error ? error.message : String(error)})`;
  }
  return undefined;
}

/**
 * An interval whose active time is over 1/BUSY_SHARE of it keeps the fast beat (#beat): at most
 * a quarter of the watched idle interval (1.9 threshold) is under half the threshold, so steady
 * work that is no block can never be taken for one there.
 */
const BUSY_SHARE = 4;
/** ms of loop activity with no interval busier than a fast beat before the heartbeat slows down again. */
const SLOW_AFTER = 1000;
/** ms between two onSecond calls (on average: each waits for the first beat after it is due). */
const SECOND = 1000;
/** ms an idle loop keeps the roomier slow beat after one came late (heartbeat.ts #beat). */
const LATE_FOR = 10_000;

export class Heartbeat {
  /** ms between heartbeats while the loop is busy: blocks are timed to within this (as the watchdog is told). */
  readonly fastInterval: number;
  /**
   * ms between heartbeats while the loop idles. Each beat wakes an idle loop (~0.15–0.25 ms of CPU
   * on a small VM, BENCHMARKS.md "Idle cost"), and the watchdog wakes once per beat too, so an
   * idle loop beats as rarely as the watchdog allows: it takes a stack once the beat is a
   * threshold old (plus its look margin, watchdog/thread/entry.ts), so the beat must come
   * within that, with room for a timer that runs late: 0.9 threshold leaves 16 ms at the
   * default (90 + 16 = 100 + 6). Where the watchdog can see the idle loop (Linux), idleInterval instead.
   */
  readonly slowInterval: number;
  /**
   * ms between heartbeats while the loop idles and the watchdog can see that it does (Linux
   * /proc: the main thread asleep in its loop's poll, watchdog/thread/loop-idle.ts, Slot.IDLE_WATCH):
   * a threshold slower than slowInterval (190 ms at the default). The watchdog still looks a
   * threshold (+ its margin) after the last beat; it then finds the loop idle, and looks again a
   * threshold after that, where the next beat has come (22 ms of room at the default). Half the
   * beats, one /proc read per idle look instead of a wake-up of this thread. Not slower: a
   * stopped process (SIGSTOP, a paused VM) is timed by the beat's lateness, so a stop shorter
   * than threshold + this interval may go unseen (it was threshold + slowInterval).
   */
  readonly idleInterval: number;
  /**
   * The slow interval on a host that runs timers late (¾ threshold): a slow beat later than the
   * watchdog's room (threshold + its margin − slowInterval: 16 ms at the default) gets a quick
   * stack taken for nothing (~1 ms of this thread, a session and a few looks of the watchdog's),
   * which costs more than the wake-ups the slower beat saves. After a slow beat about that
   * late (#lateBeat: 13 ms at the default), an idle loop beats at this interval for LATE_FOR ms.
   */
  readonly loadedInterval: number;
  readonly #lateBeat: number;
  #lateAt = -Infinity;
  readonly #shared = new Int32Array(new SharedArrayBuffer(SLOT_COUNT * Int32Array.BYTES_PER_ELEMENT));
  readonly #options: HeartbeatOptions;
  /** The loop's idle time lives here (libuv's, as eventLoopUtilization reads it), with no object per read. */
  readonly #timing = performance.nodeTiming;
  #timer: NodeJS.Timeout;
  #interval: number;
  #worker: Worker | undefined;
  #exitPort: MessagePort | undefined;
  #lastBeatAt = performance.now();
  /** When onSecond is next due (performance.now()): on a grid, so a late beat does not make the seconds drift. */
  #nextSecond = this.#lastBeatAt + SECOND;
  #lastIdle = this.#timing.idleTime;
  /** When a beat last found the loop busier than one fast beat's worth since the one before. */
  #lastBusyAt = -Infinity;
  /** The last #measure's lateness and busy time, ms, and when the block it timed ended. */
  #lateness = 0;
  #active = 0;
  #blockEnd = 0;
  /**
   * On the slow beats, the loop's turns (#onTurn): when the last one ended, the loop's idle time
   * then, and the longest busy stretch between two of them since the last beat (with its end).
   */
  #turnAt = this.#lastBeatAt;
  #turnIdle = this.#lastIdle;
  #longest = 0;
  #longestEnd = 0;
  #turn: NodeJS.Immediate | undefined;
  #onExit = (): void => this.#handshake(false);
  readonly #onBeat = (): void => this.#beat();
  /**
   * Once per turn of the loop while it beats slowly: an unref'd immediate, run in the loop's
   * check phase after its poll and the callbacks that poll woke, and set again for the next turn.
   * A slow beat's interval (190 ms on the watched idle beat) may hold both a block and many
   * short turns (a burst of requests reaching an idle service, a job in 2 ms slices): the busy
   * time between two turns is one stretch the loop could not leave, which is what a block is;
   * the busy time between two beats is not. Unref'd, it neither keeps the process alive nor
   * stops the poll from sleeping, so an idle loop runs it once, just before the next beat, in
   * the turn that beat wakes anyway. Once the loop has done a fast beat's worth of work since
   * the last beat, it beats now: the loop is busy, and the fast beat times its blocks from here.
   */
  readonly #onTurn = (): void => {
    // Never run on the fast beat: #beat cancels the turn when it goes fast.
    this.#turn = undefined;
    const now = performance.now();
    const idle = this.#timing.idleTime;
    const busy = busySince(this.#turnAt, this.#turnIdle, now, idle);
    if (busy > this.#longest) {
      this.#longest = busy;
      this.#longestEnd = now;
    }
    this.#turnAt = now;
    this.#turnIdle = idle;
    if (busySince(this.#lastBeatAt, this.#lastIdle, now, idle) > this.fastInterval) this.#beat();
    else this.#nextTurn();
  };

  constructor(options: HeartbeatOptions) {
    this.#options = options;
    this.fastInterval = Math.max(1, Math.min(20, Math.floor(options.threshold / 4)));
    this.slowInterval = Math.max(this.fastInterval, Math.floor((options.threshold * 9) / 10));
    this.loadedInterval = Math.max(this.fastInterval, Math.floor((options.threshold * 3) / 4));
    this.idleInterval = this.slowInterval + options.threshold;
    // Late by about the watchdog's room (its margin is at least 3 ms): the quick stack is wasted.
    this.#lateBeat = options.threshold - this.slowInterval + 3;
    // 0 means "no capture" in Slot.CAPTURING: start counting at 1.
    Atomics.store(this.#shared, Slot.HEARTBEAT, 1);
    this.#interval = this.slowInterval;
    this.#timer = this.#startTimer(this.slowInterval);
    this.#nextTurn();
    this.#stamp(this.#lastBeatAt);
    // The watchdog's stack capture reads the heartbeat on this thread while it blocks.
    setGlobal('heartbeat', this.#shared);
    if (options.stacks) this.#startWorker();
  }

  /** ms between heartbeats right now. */
  get interval(): number {
    return this.#interval;
  }

  /** The slots and the watchdog's evidence (watchdog/protocol.ts), while the watchdog runs. */
  get shared(): Int32Array | undefined {
    return this.#worker === undefined ? undefined : this.#shared;
  }

  /** Count from now: the monitor's own start-up (spawning the watchdog) is not a block. */
  restart(): void {
    this.#lastBeatAt = performance.now();
    this.#lastIdle = this.#timing.idleTime;
    this.#newInterval();
    this.#stamp(this.#lastBeatAt);
  }

  /** Tell the watchdog which blocking Node API runs now (index + 1 in NATIVE_CALLS, 0 = none). */
  setNativeCall(index: number): void {
    Atomics.store(this.#shared, Slot.NATIVE_CALL, index);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#cancelTurn();
    process.off('exit', this.#onExit);
    if (getGlobal('heartbeat') === this.#shared) setGlobal('heartbeat', undefined);
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker === undefined) return;
    this.#handshake(false);
    this.#exitPort?.close();
    this.#exitPort = undefined;
    worker.removeAllListeners('message');
    await worker.terminate();
  }

  /**
   * The process is exiting, and no heartbeat will come again: a block in the tick now ending
   * (a script's last statement, `busy(); process.exit(7)`) would never be measured. Measure it
   * here, as #beat would have, and ask the watchdog, synchronously, for what it captured while
   * it lasted (and for the stalls in `awaiting`, still waiting for theirs). Waits for the
   * watchdog only when it was capturing one of them, and then at most EXIT_HANDSHAKE_TIMEOUT.
   */
  atExit(awaiting: readonly number[]): ExitFindings {
    const now = performance.now();
    const seq = Atomics.load(this.#shared, Slot.HEARTBEAT);
    // Moved first: a capture still on its way to this thread (the watchdog's requests run from
    // interrupts, even inside the wait below) then reads a moved heartbeat, and the exit
    // handlers' own code is never taken for the block's.
    Atomics.add(this.#shared, Slot.HEARTBEAT, 1);
    const blocked = this.#measure(now, this.#timing.idleTime);
    const watching = this.#worker !== undefined;
    let open: Stall | undefined;
    if (blocked > this.#options.threshold) {
      const captureUnderWay = watching && Atomics.load(this.#shared, Slot.CAPTURING) === seq;
      const end = this.#blockEnd;
      open = { seq, start: end - blocked, end, duration: blocked, pollMs: this.#pollMs(blocked), captureUnderWay };
    }
    const wanted = new Set(awaiting);
    if (open !== undefined) wanted.add(seq);
    const waitFor = watching && (awaiting.length > 0 || open?.captureUnderWay === true);
    this.#handshake(waitFor);
    const captures: CaptureMessage[] = [];
    const hangs: number[] = [];
    const port = this.#exitPort;
    if (port !== undefined && wanted.size > 0) {
      for (let received = receiveMessageOnPort(port); received !== undefined; received = receiveMessageOnPort(port)) {
        const message = received.message as WatchdogMessage;
        if (message.type === 'capture' && wanted.has(message.seq)) captures.push(message);
        if (message.type === 'hang' && wanted.has(message.seq)) hangs.push(message.seq);
      }
    }
    return { open, captures, hangs };
  }

  /** A beat starts the next interval's turns from itself. */
  #newInterval(): void {
    this.#turnAt = this.#lastBeatAt;
    this.#turnIdle = this.#lastIdle;
    this.#longest = 0;
  }

  #nextTurn(): void {
    if (this.#turn !== undefined) return;
    this.#turn = setImmediate(this.#onTurn);
    this.#turn.unref();
  }

  #cancelTurn(): void {
    if (this.#turn !== undefined) clearImmediate(this.#turn);
    this.#turn = undefined;
  }

  #startTimer(interval: number): NodeJS.Timeout {
    const timer = setInterval(this.#onBeat, interval);
    timer.unref();
    return timer;
  }

  /** The beat's time for the watchdog, on the main thread's clock (Slot.BEAT_AT). */
  #stamp(now: number): void {
    Atomics.store(this.#shared, Slot.INTERVAL, this.#interval);
    Atomics.store(this.#shared, Slot.BEAT_AT, Math.floor(now) | 0);
  }

  /**
   * How long the loop was blocked at `now`, from the last beat. The fast beat times a block by
   * the beat's lateness, as precise as the beat is frequent. The slow beat runs only on a loop
   * that was idle, where a block begins a while after the last beat and the lateness would leave
   * out up to a slow interval of it: there the longest busy stretch between two of the loop's
   * turns (#onTurn) is the block, never less than the lateness. Sets #blockEnd.
   */
  #measure(now: number, idle: number): number {
    // Kept in fields, not returned in an object: nothing is allocated per beat.
    this.#active = Math.max(0, busySince(this.#lastBeatAt, this.#lastIdle, now, idle));
    this.#lateness = Math.max(0, now - this.#lastBeatAt - this.#interval);
    this.#blockEnd = now;
    if (this.#interval === this.fastInterval) return this.#lateness;
    const current = busySince(this.#turnAt, this.#turnIdle, now, idle);
    if (this.#longest > current && this.#longest > this.#lateness) {
      this.#blockEnd = this.#longestEnd;
      return this.#longest;
    }
    return Math.max(this.#lateness, current);
  }

  /**
   * ms of a block of `blocked` ms (as #measure just timed it) spent in the loop's poll: the
   * gap's idle time less whatever of it may lie before the block (the gap minus the block).
   */
  #pollMs(blocked: number): number {
    return Math.max(0, blocked - this.#active);
  }

  #beat(): void {
    let now = performance.now();
    if (now >= this.#nextSecond && this.#options.onSecond !== undefined) {
      this.#nextSecond += SECOND;
      // After a long block, the seconds it covered are not made up for with a burst.
      if (this.#nextSecond <= now) this.#nextSecond = now + SECOND;
      // First in the beat: the libuv probe's work item goes to the pool now, and its completion
      // can then land while this thread is still awake for the rest, not wake it again.
      try {
        this.#options.onSecond();
      } catch {
        // the second's figures are lost; the beat is not
      }
      now = performance.now();
    }
    const idle = this.#timing.idleTime;
    const interval = this.#interval;
    const blocked = this.#measure(now, idle);
    const lateness = this.#lateness;
    const seq = Atomics.load(this.#shared, Slot.HEARTBEAT);
    const gap = now - this.#lastBeatAt;
    const blockEnd = this.#blockEnd;
    this.#lastBeatAt = now;
    this.#lastIdle = idle;
    this.#newInterval();
    // Busy: more than a fast beat's work since the last beat, or more than a quarter of the
    // interval. A server answering many small requests is rarely busy for a whole 20 ms (the
    // loop polls between them) yet may be for half of a slow interval: on the watched idle
    // beat (190 ms at the default) that active time would exceed the threshold with no block
    // at all, and #measure would report one (issue 9: a loaded hello service read false ~175 ms
    // blocks, cause unknown, with no stack). On the fast beat lateness times a block.
    if (this.#active > this.fastInterval || this.#active * BUSY_SHARE > gap) this.#lastBusyAt = now;
    // Not after a late watched beat (idleInterval): a beat late because the host gave this
    // thread no CPU finds it still in its poll (woken, waiting to run) when the watchdog looks,
    // which is idle to the watchdog, and no stack is taken for it.
    else if (interval === this.slowInterval && lateness > this.#lateBeat) this.#lateAt = now;
    const idleInterval =
      this.#worker !== undefined && Atomics.load(this.#shared, Slot.IDLE_WATCH) === 1 ? this.idleInterval : this.slowInterval;
    // Busy: beat fast (the loop is awake anyway, and a busy loop's block is timed by lateness).
    // Idle for a while: beat slowly, a little less slowly where timers run late.
    const next =
      now - this.#lastBusyAt < SLOW_AFTER ? this.fastInterval : now - this.#lateAt < LATE_FOR ? this.loadedInterval : idleInterval;
    if (next !== interval) {
      clearInterval(this.#timer);
      this.#interval = next;
      this.#timer = this.#startTimer(next);
    }
    if (next === this.fastInterval) this.#cancelTurn();
    else this.#nextTurn();
    this.#stamp(now);
    Atomics.add(this.#shared, Slot.HEARTBEAT, 1);
    this.#options.onLateness(lateness);
    if (blocked > this.#options.threshold) {
      const captureUnderWay = this.#worker !== undefined && Atomics.load(this.#shared, Slot.CAPTURING) === seq;
      this.#options.onStall({
        seq,
        start: blockEnd - blocked,
        end: blockEnd,
        duration: blocked,
        pollMs: this.#pollMs(blocked),
        captureUnderWay,
      });
    }
  }

  #startWorker(): void {
    // Neither end has a 'message' listener: nothing here keeps either thread alive.
    const { port1, port2 } = new MessageChannel();
    this.#exitPort = port1;
    const data: WatchdogData = {
      buffer: this.#shared.buffer as SharedArrayBuffer,
      threshold: this.#options.threshold,
      hangTimeout: this.#options.hangTimeout,
      hangFormat: this.#options.hangFormat,
      http: this.#options.http,
      // Only while a block is under way (to see it end); an idle watchdog sleeps until a beat can be stale.
      pollInterval: Math.max(1, Math.min(25, Math.floor(this.#options.threshold / 4))),
      timeOrigin: performance.timeOrigin,
      cwd: process.cwd(),
      sourceMaps: this.#options.sourceMaps,
      loopFds: epollDescriptors(),
      exitPort: port2,
    };
    // execArgv: [] so that flags such as --input-type or a test runner's loaders stay out of it.
    const worker = new Worker(workerUrl('watchdog-worker'), {
      workerData: data,
      transferList: [port2],
      execArgv: [],
      env: {},
      stdout: false,
      stderr: false,
      name: 'loopguard-watchdog',
    });
    worker.on('message', (message: WatchdogMessage) => this.#options.onMessage(message));
    worker.on('error', (error) => {
      this.#worker = undefined;
      this.#exitPort?.close();
      this.#exitPort = undefined;
      this.#options.onWorkerError(error);
    });
    // After adding the 'message' listener: adding one later would ref the worker again.
    worker.unref();
    this.#worker = worker;
    process.on('exit', this.#onExit);
  }

  /**
   * A worker session made with connectToMainThread() holds up process exit ("Waiting for the
   * debugger to disconnect..."): ask the watchdog to drop it and wait, briefly, until it has.
   * `forCapture`: wait also without a session, for the captures it posts on the exit port.
   */
  #handshake(forCapture: boolean): void {
    if (Atomics.load(this.#shared, Slot.STATE) === State.STOPPING) return;
    Atomics.store(this.#shared, Slot.STATE, State.STOPPING);
    Atomics.notify(this.#shared, Slot.STATE);
    // Without a session (the usual case: it exists only during a capture) there is nothing
    // to wait for, and exit is not delayed.
    if (!forCapture && Atomics.load(this.#shared, Slot.SESSION) === 0) return;
    Atomics.wait(this.#shared, Slot.ACK, 0, EXIT_HANDSHAKE_TIMEOUT);
  }
}

/**
 * The epoll descriptors open now (Linux /proc/self/fd): this thread's loop's is among them, and it
 * is in none of spawnSync's nested loops, since it is running this (watchdog/thread/loop-idle.ts).
 * Empty elsewhere, or for a process with so many descriptors that the scan would cost a start-up.
 */
function epollDescriptors(): number[] {
  if (process.platform !== 'linux') return [];
  try {
    const names = readdirSync('/proc/self/fd');
    if (names.length > 4096) return [];
    const found: number[] = [];
    for (const name of names) {
      try {
        if (readlinkSync(`/proc/self/fd/${name}`) === 'anon_inode:[eventpoll]') found.push(Number(name));
      } catch {
        // closed meanwhile (the directory's own descriptor is)
      }
    }
    return found;
  } catch {
    return [];
  }
}
