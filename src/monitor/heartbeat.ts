/**
 * The main thread's side of the watchdog: a heartbeat in a SharedArrayBuffer, the watchdog
 * worker, and the exit handshake. A block is the gap between two heartbeats, measured here
 * on the main thread; the watchdog only adds what it saw while the gap was open.
 */
// From node:timers, not the globals: a test's fake timers must not stop the heartbeat (the
// watchdog would then see one endless block).
import { clearInterval, setInterval } from 'node:timers';
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
  /** ms, a lower bound: the gap between heartbeats minus the heartbeat interval. */
  duration: number;
  /** Whether the watchdog was capturing a stack for it (a 'capture' message will follow). */
  captureUnderWay: boolean;
}

type CaptureMessage = Extract<WatchdogMessage, { type: 'capture' }>;

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

export class Heartbeat {
  readonly interval: number;
  readonly #shared = new Int32Array(new SharedArrayBuffer(SLOT_COUNT * Int32Array.BYTES_PER_ELEMENT));
  readonly #options: HeartbeatOptions;
  readonly #timer: NodeJS.Timeout;
  #worker: Worker | undefined;
  #exitPort: MessagePort | undefined;
  #lastBeatAt = performance.now();
  #onExit = (): void => this.#handshake(false);

  constructor(options: HeartbeatOptions) {
    this.#options = options;
    // Well under the threshold, so that a normal loop never looks stale to the watchdog.
    this.interval = Math.max(1, Math.min(20, Math.floor(options.threshold / 4)));
    // 0 means "no capture" in Slot.CAPTURING: start counting at 1.
    Atomics.store(this.#shared, Slot.HEARTBEAT, 1);
    this.#timer = setInterval(() => this.#beat(), this.interval);
    this.#timer.unref();
    // The watchdog's stack capture reads the heartbeat on this thread while it blocks.
    setGlobal('heartbeat', this.#shared);
    if (options.stacks) this.#startWorker();
  }

  /** The slots and the watchdog's evidence (watchdog/protocol.ts), while the watchdog runs. */
  get shared(): Int32Array | undefined {
    return this.#worker === undefined ? undefined : this.#shared;
  }

  /** Count from now: the monitor's own start-up (spawning the watchdog) is not a block. */
  restart(): void {
    this.#lastBeatAt = performance.now();
  }

  /** Tell the watchdog which blocking Node API runs now (index + 1 in NATIVE_CALLS, 0 = none). */
  setNativeCall(index: number): void {
    Atomics.store(this.#shared, Slot.NATIVE_CALL, index);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
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
    const lateness = Math.max(0, now - this.#lastBeatAt - this.interval);
    const watching = this.#worker !== undefined;
    let open: Stall | undefined;
    if (lateness > this.#options.threshold) {
      const captureUnderWay = watching && Atomics.load(this.#shared, Slot.CAPTURING) === seq;
      open = { seq, start: now - lateness, end: now, duration: lateness, captureUnderWay };
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

  #beat(): void {
    const now = performance.now();
    const gap = now - this.#lastBeatAt;
    const seq = Atomics.load(this.#shared, Slot.HEARTBEAT);
    this.#lastBeatAt = now;
    Atomics.add(this.#shared, Slot.HEARTBEAT, 1);
    const lateness = Math.max(0, gap - this.interval);
    this.#options.onLateness(lateness);
    if (lateness > this.#options.threshold) {
      const captureUnderWay = this.#worker !== undefined && Atomics.load(this.#shared, Slot.CAPTURING) === seq;
      this.#options.onStall({ seq, start: now - lateness, end: now, duration: lateness, captureUnderWay });
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
      // A stall is seen within threshold + pollInterval; 40 looks a second at the default.
      pollInterval: Math.max(1, Math.min(25, Math.floor(this.#options.threshold / 4))),
      cwd: process.cwd(),
      sourceMaps: this.#options.sourceMaps,
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
