/**
 * What the main thread and a pool thread agree on. Imports nothing: worker.ts (its own
 * bundle, loaded from either build) and the main-side modules both include it.
 *
 * Traffic is batched both ways to keep the per-task cost near the bare cost of structured
 * clone: the main thread posts every task it assigned to a thread in one tick as one message,
 * and the thread posts results in groups. A thread runs its tasks one after the other, in
 * the order received, so results come back in order and carry no task id.
 */

/** How a thread finds a function the first time a task names its index. */
export interface FunctionDef {
  index: number;
  /** Marked function: the file URL of the marking module and its key there. */
  module?: string;
  key?: string;
  /** Plain function: its source text, compiled once per thread. */
  source?: string;
  name: string;
}

/**
 * main → thread: new definitions, then tasks as one flat list
 * `[fnIndex, argCount, ...args, fnIndex, argCount, ...args, …]`. Flat, because structured clone
 * pays per object (an identity-map entry, a header): an array of arguments per task was a
 * third of the cost of posting a batch of tiny tasks.
 */
/** Offsets within one task of `TaskBatch.tasks`: its function's index, its argument count, then its arguments. */
export const TASK_FUNCTION = 0;
export const TASK_ARG_COUNT = 1;
export const TASK_ARGS = 2;

export interface TaskBatch {
  /**
   * Self-contained functions (sent as source) the thread may forget before reading `defs`:
   * the main thread keeps at most {@link SOURCE_CACHE_SIZE} of them defined per thread and
   * never lists one that a task of this batch uses.
   */
  forget: number[] | null;
  defs: FunctionDef[] | null;
  tasks: unknown[];
  /**
   * `[ordinal in tasks, context, …]` for the tasks that carry a context (the queue worker's job),
   * in order; absent when none does, so the common batch clones nothing more. The thread
   * exposes a task's context while it runs (globals `taskContext`).
   */
  contexts?: unknown[];
}

/**
 * How many self-contained functions (runInThreadpool with a plain function, sent as source)
 * the main thread remembers, and each pool thread keeps compiled: the least recently used
 * beyond this are forgotten (and sent again if used again). Functions marked with threaded()
 * are not counted: they are few, made once per module.
 */
export const SOURCE_CACHE_SIZE = 1000;

/**
 * thread → main: a flat list `[status, value, runUs, status, value, runUs, …]`, one triple per
 * task, in order. `runUs` is the task's run time in whole µs measured in the thread: the main thread's own
 * view (post to answer) includes its GC pauses and queueing, and sizing pipelines on that made
 * the depth collapse exactly when the main thread was busiest.
 */
export type ResultBatch = unknown[];
/** Offsets within one result's triple, and the triple's length. */
export const RESULT_STATUS = 0;
export const RESULT_VALUE = 1;
export const RESULT_RUN_US = 2;
export const RESULT_STRIDE = 3;

export const STATUS_OK = 0;
/** The function threw or rejected; the value is a {@link SerializedError}. */
export const STATUS_THROWN = 1;
/** The function could not be found or compiled in the thread; the value says why. */
export const STATUS_NOT_PORTABLE = 2;

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** Own properties that could be cloned (`code`, `errno`, …). */
  props?: Record<string, unknown>;
  cause?: SerializedError | unknown;
}

/** Int32 slots of the SharedArrayBuffer each thread gets in `workerData.control`. */
export const SLOT_STARTED = 0; // how many tasks the thread has started (crash attribution)
/** Bumped and notified by the main thread after each post: an idle thread waits on it briefly. */
export const SLOT_DOORBELL = 1;
export const CONTROL_SLOTS = 2;

export interface PoolWorkerData {
  control: SharedArrayBuffer;
}

/** A thread posts its results once this many are waiting, or at the end of a batch. */
export const RESULT_FLUSH_COUNT = 256;
/** …or once this many ms passed since its last post, so slow tasks do not delay fast ones. */
export const RESULT_FLUSH_MS = 1;
