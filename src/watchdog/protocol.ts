/**
 * The boundary between the main thread and the watchdog thread: SharedArrayBuffer slots and
 * message shapes. Both sides import this file and nothing else from each other.
 */
import type { MessagePort } from 'node:worker_threads';

/** Int32 slots of the shared heartbeat buffer. */
export const Slot = {
  /** Bumped by the main thread on every heartbeat; a stale value means the loop is blocked. */
  HEARTBEAT: 0,
  /** `State.*`: the main thread asks the watchdog to stop here (and `Atomics.notify`s). */
  STATE: 1,
  /** Set to 1 by the watchdog once its inspector session is gone and it will not pause again. */
  ACK: 2,
  /** The heartbeat value the watchdog is capturing a stack for (0 when none). */
  CAPTURING: 3,
  /** 1 + index in NATIVE_CALLS of the blocking Node API running now, 0 when none. */
  NATIVE_CALL: 4,
  /**
   * 1 while the watchdog holds an inspector session. Set before it checks STATE, and the
   * main thread sets STATE before it reads this: one of the two always sees the other.
   */
  SESSION: 5,
  /** The descriptor the watchdog streams to the `loopguard` CLI on (shared/cli-stream.ts); 0 = none. Set by register. */
  STREAM_FD: 6,
  /**
   * When the last heartbeat ran: whole ms of the main thread's `performance.now()`, wrapped to
   * 32 bits (compare with `(a - b) | 0`). The watchdog reads the main thread's clock as
   * `performance.timeOrigin + performance.now() - WatchdogData.timeOrigin`.
   */
  BEAT_AT: 7,
  /**
   * ms between heartbeats right now (the main thread switches between a fast and a slow beat):
   * a block began at most this long after BEAT_AT, which is how long the watchdog waits past
   * the threshold before it is sure the block counts.
   */
  INTERVAL: 8,
} as const;

export const SLOT_COUNT = 10;

export const State = { RUNNING: 0, STOPPING: 1 } as const;

/*
 * At exit the main thread cannot take messages from the worker's port any more (its loop will
 * not run again), so a block in the last tick would lose the stack the watchdog took while it
 * lasted. The worker therefore also sends what it found on `exitPort`, which the main thread
 * reads synchronously (receiveMessageOnPort) after the STOPPING handshake: the watchdog posts
 * there, then sets ACK.
 */

/** The blocking Node APIs the watchdog can name during a block (by index, see Slot.NATIVE_CALL). */
export const NATIVE_CALLS: readonly string[] = [
  'crypto.pbkdf2Sync',
  'crypto.scryptSync',
  'crypto.generateKeyPairSync',
  'crypto.generateKeySync',
  'crypto.generatePrimeSync',
  'crypto.checkPrimeSync',
  'crypto.randomFillSync',
  'crypto.hkdfSync',
  'zlib.gzipSync',
  'zlib.gunzipSync',
  'zlib.deflateSync',
  'zlib.inflateSync',
  'zlib.deflateRawSync',
  'zlib.inflateRawSync',
  'zlib.unzipSync',
  'zlib.brotliCompressSync',
  'zlib.brotliDecompressSync',
  'fs.readFileSync',
  'fs.writeFileSync',
  'fs.appendFileSync',
  'fs.readdirSync',
  'fs.statSync',
  'fs.lstatSync',
  'fs.existsSync',
  'fs.copyFileSync',
  'fs.cpSync',
  'fs.rmSync',
  'fs.mkdirSync',
  'fs.readSync',
  'fs.writeSync',
  'fs.openSync',
  'fs.accessSync',
  'fs.renameSync',
  'fs.unlinkSync',
  'fs.fsyncSync',
  'child_process.execSync',
  'child_process.execFileSync',
  'child_process.spawnSync',
];

/** What the watchdog needs to know, passed as `workerData`. */
export interface WatchdogData {
  buffer: SharedArrayBuffer;
  /** ms without a heartbeat before a stack is captured. */
  threshold: number;
  /** ms without a heartbeat before the watchdog writes a hang report itself; 0 = never. */
  hangTimeout: number;
  /** How the hang report is written to fd 2. */
  hangFormat: 'pretty' | 'json' | 'none';
  /** Walk the paused frames' scopes for a request object. */
  http: boolean;
  /** ms between two looks at the heartbeat while a block is under way (idle, it sleeps until the next one can be due). */
  pollInterval: number;
  /** The main thread's `performance.timeOrigin`: with it, the watchdog reads the main thread's clock (Slot.BEAT_AT). */
  timeOrigin: number;
  /** The working directory, to shorten paths in the hang report. */
  cwd: string;
  /** Map the hang report's frames through source maps. */
  sourceMaps: boolean;
  /**
   * Where the watchdog posts its latest 'capture' (and 'hang') messages once more when told to
   * stop, before it sets ACK: the main thread reads them there at exit (see State above).
   */
  exitPort: MessagePort;
}

/** One paused call frame, as the inspector gives it (0-based line and column). */
export interface RawFrame {
  functionName: string;
  scriptId: string;
  line: number;
  column: number;
}

/** The URL and source map of a script that appears in a capture. */
export interface ScriptInfo {
  url: string;
  sourceMapURL: string;
}

export type WatchdogMessage =
  | { type: 'ready' }
  /** The inspector cannot be used here: run without stacks. */
  | { type: 'unavailable'; reason: string }
  /**
   * A stack for the block that stalled the heartbeat at value `seq`. `frames` is empty when
   * the pause landed after the loop had already moved on (a late pause blames the wrong code).
   */
  | {
      type: 'capture';
      seq: number;
      /** `new Error().stack` taken inside the block ('' when it was not); preferred over frames. */
      stackText: string;
      frames: RawFrame[];
      scripts: Record<string, ScriptInfo>;
      context: Record<string, unknown> | undefined;
      /**
       * ms of the block that were the capture's own (Debugger.enable, which grows with the heap,
       * and the pause): not the app's, so left out when the block's cause is judged.
       */
      ownMs: number;
    }
  /** The watchdog wrote a hang report for the block at `seq` (it lasted >= hangTimeout). */
  | { type: 'hang'; seq: number; elapsed: number };
