import { availableParallelism } from 'node:os';
import type { ResourceLimits, TransferListItem } from 'node:worker_threads';
import { InvalidOptionRangeError, InvalidOptionTypeError } from '../../errors.js';
import { checkNumber, checkOptionsObject, checkString, describeValue } from '../../shared/validate.js';

/** The most threads one pool may have (`minThreads`, `maxThreads`). */
const MAX_POOL_THREADS = 256;
/** The longest delay setTimeout honours: a longer one fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface PoolOptions {
  /** Threads kept warm even when idle, at most 256. @default 0 */
  minThreads?: number;
  /** Upper bound on threads, at most 256. @default max(1, availableParallelism() - 1) */
  maxThreads?: number;
  /** ms an idle thread above `minThreads` lives, at most 2147483647, or `Infinity`. @default 10000 */
  idleTimeout?: number;
  /**
   * How many tasks may wait; a task submitted beyond this is rejected with `PoolQueueFullError`.
   * A task waits from submission until it starts: in the pool's queue, or handed to a busy
   * thread behind the task it runs (pipelined). Each thread's running task does not count,
   * and a task that finds an idle thread (or room for a new one) is always admitted.
   * @default Infinity
   */
  maxQueue?: number;
  /**
   * ms a task may run (counted from its start) before `TaskTimeoutError`, at most 2147483647
   * (setTimeout's limit); `0` or `Infinity` = none.
   * @default 0
   */
  taskTimeout?: number;
  /** ms a task may wait for a thread before one "pool saturated" warning; `0` = never warn. @default 1000 */
  queueWarning?: number;
  /** Passed to each `Worker` (e.g. `maxOldGenerationSizeMb`). */
  resourceLimits?: ResourceLimits;
  /** Named in warnings. @default 'default' for the default pool, else 'pool' */
  name?: string;
}

export interface RunOptions {
  /** Aborting rejects the task with the signal's reason; a running task's thread is replaced. */
  signal?: AbortSignal;
  /** ms this task may run, at most 2147483647; overrides the pool's `taskTimeout`; `0` or `Infinity` = none. */
  timeout?: number;
  /** ArrayBuffers (etc.) to move instead of copy, as with `postMessage`. */
  transfer?: TransferListItem[];
}

export interface ResolvedPoolOptions {
  minThreads: number;
  maxThreads: number;
  idleTimeout: number;
  maxQueue: number;
  taskTimeout: number;
  queueWarning: number;
  resourceLimits: ResourceLimits | undefined;
  name: string;
}

const POOL_OPTIONS = [
  'minThreads',
  'maxThreads',
  'idleTimeout',
  'maxQueue',
  'taskTimeout',
  'queueWarning',
  'resourceLimits',
  'name',
] as const;
const LIMITS = ['maxYoungGenerationSizeMb', 'maxOldGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'] as const;

export function resolvePoolOptions(options: unknown): ResolvedPoolOptions {
  const given = checkOptionsObject('pool options', options, POOL_OPTIONS);
  const defaultMax = Math.max(1, availableParallelism() - 1);
  const minThreads =
    given.minThreads === undefined ? 0 : checkNumber('minThreads', given.minThreads, { min: 0, max: MAX_POOL_THREADS, integer: true });
  let maxThreads = defaultMax;
  if (given.maxThreads !== undefined) {
    maxThreads = checkNumber('maxThreads', given.maxThreads, { min: 1, max: MAX_POOL_THREADS, integer: true });
    if (minThreads > maxThreads) {
      throw new InvalidOptionRangeError(`minThreads must be <= maxThreads (${maxThreads}), got \`${minThreads}\` (number)`);
    }
  } else if (minThreads > maxThreads) {
    maxThreads = minThreads;
  }
  let resourceLimits: ResourceLimits | undefined;
  if (given.resourceLimits !== undefined) {
    const limits = checkOptionsObject('resourceLimits', given.resourceLimits, LIMITS);
    for (const key of Object.keys(limits)) checkNumber(`resourceLimits.${key}`, limits[key], { min: 0 });
    resourceLimits = { ...limits } as ResourceLimits;
  }
  return {
    minThreads,
    maxThreads,
    idleTimeout: given.idleTimeout === undefined ? 10_000 : checkTimeout('idleTimeout', given.idleTimeout),
    maxQueue:
      given.maxQueue === undefined
        ? Infinity
        : checkNumber('maxQueue', given.maxQueue, { min: 0, integer: true, infinity: true }),
    taskTimeout: given.taskTimeout === undefined ? 0 : checkTimeout('taskTimeout', given.taskTimeout),
    queueWarning: optionalNumber('queueWarning', given.queueWarning, 1000),
    resourceLimits,
    name: given.name === undefined ? 'pool' : checkString('name', given.name),
  };
}

/**
 * A delay that becomes a setTimeout: ms from 0 to {@link MAX_TIMER_MS}, or Infinity. Refused
 * beyond, rather than silently becoming 1 ms (Node's TimeoutOverflowWarning).
 */
export function checkTimeout(name: string, value: unknown): number {
  if (typeof value === 'number' && value > MAX_TIMER_MS && value !== Infinity) {
    throw new InvalidOptionRangeError(
      `${name} must be a number of ms from 0 to ${MAX_TIMER_MS} (setTimeout's limit) or Infinity, got ${describeValue(value)}`,
    );
  }
  return checkNumber(name, value, { min: 0, infinity: true });
}

function optionalNumber(name: string, value: unknown, fallback: number): number {
  return value === undefined ? fallback : checkNumber(name, value, { min: 0, infinity: true });
}

const NO_RUN_OPTIONS: RunOptions = Object.freeze({});

/** Validate `run()`'s options; throws (run() turns it into a rejection). */
export function resolveRunOptions(options: unknown): RunOptions {
  if (options === undefined) return NO_RUN_OPTIONS; // the common case allocates nothing
  const given = checkOptionsObject('run options', options, ['signal', 'timeout', 'transfer']);
  if (given.signal !== undefined && !(given.signal instanceof AbortSignal)) {
    throw new InvalidOptionTypeError(`signal must be an AbortSignal, got ${describeValue(given.signal)}`);
  }
  if (given.timeout !== undefined) checkTimeout('timeout', given.timeout);
  if (given.transfer !== undefined && !Array.isArray(given.transfer)) {
    throw new InvalidOptionTypeError(`transfer must be an array, got ${describeValue(given.transfer)}`);
  }
  return given as RunOptions;
}
