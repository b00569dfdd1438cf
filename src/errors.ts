/**
 * Every error loopguard throws or rejects with is a {@link LoopguardError} with a stable
 * `code`, so callers can branch on `err.code` without matching message text.
 *
 * `instanceof` must work across copies of these classes: the ESM and the CJS build (and a
 * second installed copy of the package) each define their own classes, and an error made by
 * one copy is tested against another copy's class. So, as undici does, `instanceof` reads a
 * brand on the instance — the names of its classes under a versioned `Symbol.for` key, which
 * every copy shares — instead of the prototype chain. The option errors extend `TypeError`
 * and `RangeError` (what Node's own option errors are) and carry the same brand, so they are
 * `instanceof LoopguardError` too.
 */
import { ERROR_BRAND as BRAND } from './shared/globals.js';
import type { BlockEvent } from './types.js';

interface Branded {
  [BRAND]?: readonly string[];
}

/** The error classes that stand between our built-in parent and the instance, innermost first. */
function brand(error: Error, target: Function): void {
  const names: string[] = [];
  for (let c: unknown = target; typeof c === 'function' && !BUILT_IN_PARENTS.has(c); c = Object.getPrototypeOf(c)) {
    names.push((c as Function).name);
  }
  Object.defineProperty(error, BRAND, { value: names, enumerable: false });
}
const BUILT_IN_PARENTS = new Set<unknown>([Error, TypeError, RangeError, Function.prototype]);

function hasBrand(value: unknown, name: string | undefined): boolean {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  const names = (value as Branded)[BRAND];
  return Array.isArray(names) && (name === undefined || names.includes(name));
}

export class LoopguardError extends Error {
  /** A stable identifier of what went wrong (`ERR_LOOPGUARD_*`). */
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    brand(this, new.target);
  }

  /** Recognises errors of every copy of loopguard (ESM, CJS, another installed version 1). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, this === LoopguardError ? undefined : this.name);
  }
}

/** An option had the wrong type. The message names the option and the value received. */
export class InvalidOptionTypeError extends TypeError {
  readonly code = 'ERR_LOOPGUARD_INVALID_OPTION';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidOptionTypeError';
    brand(this, new.target);
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, this.name);
  }
}

/** An option was out of range. The message names the option and the value received. */
export class InvalidOptionRangeError extends RangeError {
  readonly code = 'ERR_LOOPGUARD_INVALID_OPTION';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidOptionRangeError';
    brand(this, new.target);
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, this.name);
  }
}

/** A function cannot run in a worker thread as it stands (a closure, the entry module, …). */
export class FunctionNotPortableError extends LoopguardError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_LOOPGUARD_NOT_PORTABLE', message, options);
  }
}

/** A pool task ran longer than its timeout; its worker was replaced. */
export class TaskTimeoutError extends LoopguardError {
  readonly timeout: number;
  constructor(timeout: number, options?: ErrorOptions) {
    super('ERR_LOOPGUARD_TASK_TIMEOUT', `task timed out after ${timeout} ms`, options);
    this.timeout = timeout;
  }
}

/** The pool's queue was full (`maxQueue`). */
export class PoolQueueFullError extends LoopguardError {
  constructor(maxQueue: number) {
    super('ERR_LOOPGUARD_QUEUE_FULL', `thread pool queue is full (maxQueue ${maxQueue})`);
  }
}

/** The worker running a task died (process.exit, out of memory, an uncaught error). */
export class WorkerCrashedError extends LoopguardError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_LOOPGUARD_WORKER_CRASHED', message, options);
  }
}

/** The pool was closed or destroyed. */
export class PoolClosedError extends LoopguardError {
  constructor(message = 'thread pool is closed') {
    super('ERR_LOOPGUARD_POOL_CLOSED', message);
  }
}

/** A blocking Node API was called inside a request or task while `syncCalls: 'throw'`. */
export class BlockingCallError extends LoopguardError {
  readonly call: string;
  constructor(call: string, message: string) {
    super('ERR_LOOPGUARD_BLOCKING_CALL', message);
    this.call = call;
  }
}

/** From `expectNoBlock`: the loop was blocked longer than the threshold. */
export class BlockedError extends LoopguardError {
  /** The block that failed the expectation. */
  readonly event: BlockEvent;
  constructor(message: string, event: BlockEvent) {
    super('ERR_LOOPGUARD_BLOCKED', message);
    this.event = event;
  }
}

// ---- the job queue (loopguard/queue) ----

/** A job named a function that the worker's modules do not mark; it fails at once, never retried. */
export class UnknownJobFunctionError extends LoopguardError {
  /** The key the job carried (threaded()'s `name`). */
  readonly function: string;
  constructor(fn: string, message: string) {
    super('ERR_LOOPGUARD_UNKNOWN_FUNCTION', message);
    this.function = fn;
  }
}

/** A job's arguments or result, serialised, are over the queue's `maxPayload`. */
export class PayloadTooLargeError extends LoopguardError {
  readonly size: number;
  readonly limit: number;
  constructor(what: string, size: number, limit: number) {
    super(
      'ERR_LOOPGUARD_PAYLOAD_TOO_LARGE',
      `${what} is ${size} bytes serialised, over the queue's maxPayload of ${limit} bytes; ` +
        `store the data elsewhere (a table, an object store) and pass a reference to it instead`,
    );
    this.size = size;
    this.limit = limit;
  }
}

/** The job was cancelled (`queue.cancel(id)` or the caller's `signal`) before it completed. */
export class JobCancelledError extends LoopguardError {
  readonly id: string;
  constructor(id: string) {
    super('ERR_LOOPGUARD_JOB_CANCELLED', `job ${id} was cancelled`);
    this.id = id;
  }
}

/** `queue.result(id, { timeout })` waited longer than its timeout; the job itself goes on. */
export class JobWaitTimeoutError extends LoopguardError {
  readonly id: string;
  constructor(id: string, timeout: number) {
    super('ERR_LOOPGUARD_JOB_WAIT_TIMEOUT', `job ${id} did not settle within ${timeout} ms (it is still queued or running)`);
    this.id = id;
  }
}

/** The queue, or the worker, was closed. */
export class QueueClosedError extends LoopguardError {
  constructor(message = 'queue is closed') {
    super('ERR_LOOPGUARD_QUEUE_CLOSED', message);
  }
}

/** `status(id)` / `result(id)` for an id the queue does not hold (never sent, or already purged). */
export class JobNotFoundError extends LoopguardError {
  readonly id: string;
  constructor(id: string) {
    super('ERR_LOOPGUARD_JOB_NOT_FOUND', `no job ${id} in this queue`);
    this.id = id;
  }
}

/**
 * `loopguard/queue` was given a URL whose client library (pg-boss, bullmq) is not installed,
 * or cannot run on this Node (pg-boss 12 needs Node >= 22.12). The message says what to do.
 */
export class QueuePeerMissingError extends LoopguardError {
  /** The package to install. */
  readonly package: string;
  constructor(pkg: string, message: string, options?: ErrorOptions) {
    super('ERR_LOOPGUARD_PEER_MISSING', message, options);
    this.package = pkg;
  }
}

/** Every coded class above by name: what a job's error from another process is rebuilt as. */
const REMAKEABLE: Readonly<Record<string, Function>> = {
  LoopguardError,
  InvalidOptionTypeError,
  InvalidOptionRangeError,
  FunctionNotPortableError,
  TaskTimeoutError,
  PoolQueueFullError,
  WorkerCrashedError,
  PoolClosedError,
  BlockingCallError,
  BlockedError,
  UnknownJobFunctionError,
  PayloadTooLargeError,
  JobCancelledError,
  JobWaitTimeoutError,
  QueueClosedError,
  JobNotFoundError,
  QueuePeerMissingError,
};

/**
 * A loopguard error of class `name` with `message`, made without running its constructor (whose
 * arguments differ per class and were not sent): the caller copies `code` and the other own
 * properties onto it. It carries the brand, so `instanceof` works as for one thrown here.
 * Undefined for a name that is not one of ours.
 */
export function remakeLoopguardError(name: string, message: string): Error | undefined {
  const target = Object.prototype.hasOwnProperty.call(REMAKEABLE, name) ? REMAKEABLE[name] : undefined;
  if (target === undefined) return undefined;
  const error = Reflect.construct(Error, [message], target) as Error;
  error.name = name;
  brand(error, target);
  return error;
}
