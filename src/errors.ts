/**
 * Every error loopguard throws or rejects with extends {@link LoopguardError} and carries a
 * stable `code`, so callers can branch on `err.code` without matching message text.
 */
export class LoopguardError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An option had the wrong type. The message names the option and the value received. */
export class InvalidOptionTypeError extends TypeError {
  readonly code = 'ERR_LOOPGUARD_INVALID_OPTION';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidOptionTypeError';
  }
}

/** An option was out of range. The message names the option and the value received. */
export class InvalidOptionRangeError extends RangeError {
  readonly code = 'ERR_LOOPGUARD_INVALID_OPTION';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidOptionRangeError';
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
  readonly event: import('./types.js').BlockEvent;
  constructor(message: string, event: import('./types.js').BlockEvent) {
    super('ERR_LOOPGUARD_BLOCKED', message);
    this.event = event;
  }
}
