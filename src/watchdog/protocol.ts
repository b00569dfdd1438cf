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
   * The heartbeat value of the watchdog's latest look, stored once what that look
   * found is in the evidence below: the main thread judges a block only after the watchdog has
   * looked since it ended (or gives up waiting), so a gap in the watchdog's own timeline right
   * before is known.
   */
  SEEN: 7,
  /**
   * When the last heartbeat ran: whole ms of the main thread's `performance.now()`, wrapped to
   * 32 bits (compare with `(a - b) | 0`). The watchdog reads the main thread's clock as
   * `performance.timeOrigin + performance.now() - WatchdogData.timeOrigin`.
   */
  BEAT_AT: 8,
  /**
   * ms between heartbeats right now (the main thread switches between a fast and a slow beat):
   * a block began at most this long after BEAT_AT, which is how long the watchdog waits past
   * the threshold before it is sure the block counts.
   */
  INTERVAL: 9,
  /**
   * 1 while the watchdog can tell the main thread's idle poll from a block (Linux /proc, the
   * loop's descriptor found): an idle loop may then beat at the watched interval, a threshold
   * slower, since the watchdog no longer needs a beat to know an idle loop from a blocked one.
   */
  IDLE_WATCH: 11,
  /**
   * How many times the watchdog has enabled the debugger (a request walk, a hang report's
   * frames): a block whose request the quick stack already named never adds one. Read by tests
   * and benchmarks; last of the 16 slots, so new slots go below it.
   */
  DEBUGGER_ENABLES: 15,
} as const;

/**
 * Float64 evidence for judging a block's cause (monitor/cause.ts), from byte EVIDENCE_OFFSET of
 * the same buffer (Int32 slots 0–15 stay the slots above). Written by the watchdog only
 * (watchdog/thread/judge.ts). Epoch ms are `performance.timeOrigin + now()`, comparable across
 * threads.
 *
 * Two records of the main thread's own time during a stall (the one for `seq` at
 * `evidenceRecord(seq)`), sampled from /proc while the heartbeat is stale and read by the main
 * thread the moment the block ends (a block that follows at once reuses the other record); then
 * a ring of the last GAPS gaps in the watchdog's own timeline (its poll came far late: the whole
 * process was stopped or starved, since every thread stops with it), read once `Slot.SEEN` has
 * passed the block.
 */
export const EVIDENCE_OFFSET = 64;
export const Evidence = {
  /** Per record: the stall's heartbeat value (`Slot.HEARTBEAT`), or 0. */
  SEQ: 0,
  /** Epoch ms of the first and the latest sample of the stall. */
  FIRST_AT: 1,
  LAST_AT: 2,
  /** ms the main thread ran on a CPU between the two samples. */
  RUN_MS: 3,
  /** ms it was runnable but waited for a CPU between them; NaN when /proc does not say. */
  QUEUE_MS: 4,
  /** Samples taken, and how many found it asleep (state S or D: parked, not computing). */
  SAMPLES: 5,
  PARKED: 6,
  RECORD_SIZE: 8,
  /** Index of the ring of gaps: GAPS × [from, to] epoch ms. */
  GAPS_AT: 16,
  GAPS: 4,
  /** Index of the number of gaps written so far (the next one goes to that count % GAPS). */
  GAP_COUNT: 24,
  SIZE: 32,
} as const;

export function evidenceRecord(seq: number): number {
  return (seq % 2) * Evidence.RECORD_SIZE;
}

export const SLOT_COUNT = (EVIDENCE_OFFSET + Evidence.SIZE * Float64Array.BYTES_PER_ELEMENT) / Int32Array.BYTES_PER_ELEMENT;

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
  /**
   * The epoll descriptors open when the monitor started, read on the main thread (which was then
   * in startMonitor, so in no nested loop of spawnSync's): its own loop's is among them, and a
   * later spawnSync's is not (watchdog/thread/loop-idle.ts). Empty without /proc.
   */
  loopFds: number[];
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

/** A frame at its original position (1-based), as the watchdog mapped it: a StackFrame. */
export interface MappedFrame {
  function: string;
  file: string;
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
      /**
       * The main thread ran the stack expression so long after it was asked, while it was running
       * (not waiting for a CPU), that it had been in code V8 does not interrupt (native work, a
       * large JSON.parse): the stack shows what ran after that, maybe not the culprit.
       */
      stackLate: boolean;
      /** Epoch ms the stack was taken at. */
      stackAt: number | undefined;
      /**
       * The watchdog maps this capture's stack through source maps (it decodes them, off the
       * main thread) and posts the result as 'mapped' once the block has ended.
       */
      mapping: boolean;
      /**
       * Only in the copy on `exitPort`: the mapped stack, when the watchdog had it (null: the
       * stack landed nowhere, see 'mapped').
       */
      mapped?: MappedFrame[] | null;
    }
  /**
   * A later stack of the block at `seq` (it went on: a long block or a hang), taken `at` (epoch
   * ms), as the quick stack text.
   */
  | {
      type: 'restack';
      seq: number;
      at: number;
      stackText: string;
      stackLate: boolean;
      /** With source maps on, the stack text's frames mapped (null: none but Node's own). */
      stack?: MappedFrame[] | null;
    }
  /**
   * The mapped stack of the block at `seq`'s capture, posted once the block has ended and after
   * its restacks: null when it holds none of the app's frames (the pause landed after the block).
   */
  | { type: 'mapped'; seq: number; stack: MappedFrame[] | null }
  /** The watchdog wrote a hang report for the block at `seq` (it lasted >= hangTimeout). */
  | { type: 'hang'; seq: number; elapsed: number };
