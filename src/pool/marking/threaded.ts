import { performance } from 'node:perf_hooks';
import type { TransferListItem } from 'node:worker_threads';
import { FunctionNotPortableError, InvalidOptionRangeError, InvalidOptionTypeError } from '../../errors.js';
import { ensureGlobal, getGlobal, QUEUE_BRAND, setGlobal } from '../../shared/globals.js';
import { checkFunction, checkNumber, checkOneOf, checkOptionsObject, checkString, describeValue } from '../../shared/validate.js';
import { callSite, entryModuleUrl, toModuleUrl } from './call-site.js';
import { noteOffloaded, ThreadPool } from '../main/pool.js';
import { checkTimeout } from '../main/options.js';
import { transferLists } from './transfer-list.js';
import { aliasDefinition, defineMarked, inPoolWorker, markedFunctions, nextOrdinal } from './registry.js';

export interface ThreadedOptions {
  /** The pool to run in. @default the default pool, created on first use */
  pool?: ThreadPool;
  /**
   * ms a call may run (from its start in the thread) before `TaskTimeoutError`, at most
   * 2147483647 (setTimeout's limit); `0` = the pool's `taskTimeout` (as when unset);
   * `Infinity` = no timeout, whatever the pool's `taskTimeout`.
   * @default the pool's `taskTimeout`
   */
  timeout?: number;
  /** The key the worker finds the function by, unique within its module. @default fn.name, else its ordinal */
  name?: string;
  /** `'auto'`: run inline while cheap, move to the pool for good once a call exceeds `threshold`. @default 'always' */
  offload?: 'always' | 'auto';
  /** ms for `offload: 'auto'`. @default the running monitor's threshold, else 50 */
  threshold?: number;
  /** At most this many calls of this function at once (others wait their turn). @default Infinity */
  concurrency?: number;
  /** The marking module (`import.meta.url` or `__filename`), for bundled or unusual set-ups. @default from the call site */
  module?: string;
  /**
   * Run each call as a job on this queue (`createQueue()` of `loopguard/queue`), on a worker
   * process started with this module, instead of in this process's pool; `timeout` becomes the
   * job's timeout. Inside the worker the function runs as usual. @default none (the pool)
   */
  queue?: ThreadedQueue;
}

/**
 * What threaded() needs of a loopguard Queue, so that the core build never imports
 * loopguard/queue: a Queue is recognised by its brand (shared/globals.ts).
 */
export interface ThreadedQueue {
  readonly [QUEUE_BRAND]: true;
  run(fn: (...args: never[]) => unknown, args: never[], options?: { timeout?: number }): Promise<unknown>;
}

/** A job's longest timeout (the queue's own limit, loopguard/queue's MAX_JOB_TIMEOUT: pg-boss keeps a job at most 24 h). */
const MAX_QUEUE_TIMEOUT = 23 * 60 * 60 * 1000;

export type ThreadedFunction<A extends unknown[], R> = (...args: A) => Promise<Awaited<R>>;

const THREADED_OPTIONS = ['pool', 'timeout', 'name', 'offload', 'threshold', 'concurrency', 'module', 'queue'] as const;

/** The default pool: made on first use, shared by both builds, ended when the process exits. */
export function defaultPool(): ThreadPool {
  let pool = getGlobal('defaultPool') as ThreadPool | undefined;
  if (pool === undefined) {
    const created = new ThreadPool({ name: 'default' });
    pool = created;
    setGlobal('defaultPool', created);
    process.once('exit', () => void created.destroy());
  }
  return pool;
}

/**
 * Mark a module-level function to run in a worker thread. The worker finds it again by
 * importing the marking module (its URL from the call site, or `options.module`) and
 * reading the function registered there under the same key.
 */
export function threaded<A extends unknown[], R>(fn: (...args: A) => R, options?: ThreadedOptions): ThreadedFunction<A, R> {
  checkFunction('fn', fn);
  const given = checkOptionsObject('threaded options', options, THREADED_OPTIONS) as ThreadedOptions;
  if (given.pool !== undefined && !(given.pool instanceof ThreadPool) && typeof (given.pool as { run?: unknown }).run !== 'function') {
    throw new InvalidOptionTypeError(`pool must be a ThreadPool, got ${describeValue(given.pool)}`);
  }
  if (given.timeout !== undefined) checkTimeout('timeout', given.timeout);
  if (given.name !== undefined) checkString('name', given.name);
  const offload = given.offload === undefined ? 'always' : checkOneOf('offload', given.offload, ['always', 'auto'] as const);
  if (given.threshold !== undefined) checkNumber('threshold', given.threshold, { min: 0 });
  const concurrency =
    given.concurrency === undefined ? Infinity : checkNumber('concurrency', given.concurrency, { min: 1, integer: true, infinity: true });
  const queue = given.queue === undefined ? undefined : checkQueue(given);

  const site = callSite(threaded);
  let moduleUrl = site.moduleUrl;
  if (given.module !== undefined) {
    moduleUrl = toModuleUrl(checkString('module', given.module));
    if (moduleUrl === undefined) {
      throw new InvalidOptionTypeError(`module must be import.meta.url or __filename, got ${describeValue(given.module)}`);
    }
  } else if (!site.topLevel) {
    throw new FunctionNotPortableError(
      `threaded() must be called once, at the top level of a module, but was called at ${site.place} ` +
        `(inside a function, e.g. per request); mark the function where the module defines it`,
    );
  }
  if (moduleUrl === undefined) {
    throw new FunctionNotPortableError(
      `threaded() was called at ${site.place}, which is not a module file (eval, REPL); ` +
        `move the function into a module of its own or pass { module: import.meta.url }`,
    );
  }
  const ordinal = nextOrdinal(moduleUrl);
  const key = given.name ?? (fn.name || `#${ordinal}`);
  if (queue !== undefined && given.name === undefined && fn.name === '') {
    // An ordinal key depends on the order of a module's threaded() calls: a worker built from
    // another version of the module would run the wrong function.
    throw new FunctionNotPortableError(
      `a function marked for a queue needs a name, which its jobs carry and the worker finds it by; ` +
        `name the function, or pass threaded(fn, { queue, name: 'renderReport' }) (at ${site.place})`,
    );
  }
  const registryKey = `${moduleUrl}#${key}`;
  const existing = markedFunctions.get(registryKey);
  if (existing !== undefined && existing !== fn) {
    throw new FunctionNotPortableError(
      `two different functions are marked as "${key}" in ${moduleUrl} (the second at ${site.place}); ` +
        `give one of them another name with threaded(fn, { name })`,
    );
  }
  markedFunctions.set(registryKey, fn as (...args: never[]) => unknown);

  if (inPoolWorker()) {
    // Already in a pool thread: run inline, never wait for a second slot (FastAPI's deadlock).
    return named(fn.name, (...args: A) => runInline(fn, args));
  }
  if (moduleUrl === entryModuleUrl()) {
    throw new FunctionNotPortableError(
      `${fn.name || 'this function'} is marked in the program's entry module (${moduleUrl}), which a worker ` +
        `thread cannot import without starting the program again; move the function into a module of its own`,
    );
  }
  const def = defineMarked(fn as (...args: never[]) => unknown, moduleUrl, key);
  const label = `${key} (${moduleUrl})`;
  // 0 means the pool's taskTimeout, as documented: leave the option out and the pool applies it.
  const runOptions = given.timeout === undefined || given.timeout === 0 ? undefined : { timeout: given.timeout };
  const pool = (): ThreadPool => given.pool ?? defaultPool();
  const limit = concurrency === Infinity ? undefined : limiter(concurrency);
  let movedToPool = offload === 'always';
  // The job's timeout: the marked one when given (0 and Infinity mean the queue's default).
  const jobOptions = given.timeout === undefined || given.timeout === 0 || given.timeout === Infinity ? undefined : { timeout: given.timeout };

  const call = (args: A): Promise<Awaited<R>> => {
    if (queue !== undefined) {
      return queue.run(wrapper as (...args: never[]) => unknown, args as unknown as never[], jobOptions) as Promise<Awaited<R>>;
    }
    if (!movedToPool) {
      const threshold = given.threshold ?? getGlobal('monitor')?.threshold ?? 50;
      const start = performance.now();
      const result = runInline(fn, args);
      // Timed synchronously: only the part that held the loop counts, not what it awaited.
      if (performance.now() - start > threshold) {
        movedToPool = true;
        noteOffloaded(pool(), label);
      }
      return result;
    }
    return pool().run(fn, args, runOptions);
  };
  const wrapper = named(fn.name, (...args: A) => (limit === undefined ? call(args) : limit(() => call(args))));
  aliasDefinition(wrapper, def);
  markedWrappers.set(wrapper, fn);
  if (queue !== undefined) {
    queueOfMarked.set(wrapper, queue);
    queueOfMarked.set(fn, queue);
  }
  poolOf.set(fn, given.pool);
  if (runOptions !== undefined) runOptionsOf.set(fn, runOptions);
  return wrapper;
}

function checkQueue(given: ThreadedOptions): ThreadedQueue {
  const queue = given.queue as unknown;
  if (queue === null || typeof queue !== 'object' || (queue as Partial<ThreadedQueue>)[QUEUE_BRAND] !== true) {
    throw new InvalidOptionTypeError(`queue must be a Queue made by createQueue() of loopguard/queue, got ${describeValue(queue)}`);
  }
  if (given.pool !== undefined) {
    throw new InvalidOptionTypeError('pool and queue cannot both be given: a function marked with a queue runs on its worker processes');
  }
  if (given.offload === 'auto') {
    throw new InvalidOptionTypeError("offload: 'auto' cannot be combined with queue: a queued call always runs on a worker process");
  }
  const timeout = given.timeout;
  if (timeout !== undefined && timeout !== 0 && timeout !== Infinity && (timeout < 1 || timeout > MAX_QUEUE_TIMEOUT)) {
    throw new InvalidOptionRangeError(
      `timeout must be a number of ms from 1 to ${MAX_QUEUE_TIMEOUT} (a queue job's limit) with queue, got ${describeValue(timeout)}`,
    );
  }
  return queue as ThreadedQueue;
}

/** threaded() wrapper (and the function it marks) → the queue it was marked with. */
const queueOfMarked = ensureGlobal('threadedQueues', () => new WeakMap<object, object>()) as WeakMap<object, ThreadedQueue>;

/**
 * The queue `fn` was marked with (`threaded(fn, { queue })`), for the adapters' route helpers,
 * which take a marked function and find its queue; undefined for a function marked without one.
 */
export function queueOf(fn: (...args: never[]) => unknown): ThreadedQueue | undefined {
  return queueOfMarked.get(fn);
}

/** threaded() wrapper → marked function, so runInThreadpool(wrapper) takes the marked path. */
const markedWrappers = new WeakMap<object, (...args: never[]) => unknown>();
const poolOf = new WeakMap<object, ThreadPool | undefined>();
/** The marked function's own `timeout`, which runInThreadpool(wrapper) honours too. */
const runOptionsOf = new WeakMap<object, { timeout: number }>();

/**
 * Run `fn(...args)` in the default pool: a threaded() function, or a self-contained
 * function (no outer variables), sent as source and compiled once per thread.
 */
export function runInThreadpool<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): Promise<Awaited<R>> {
  const target = (markedWrappers.get(fn) ?? fn) as (...args: A) => R;
  if (inPoolWorker()) return runInline(target, args);
  return (poolOf.get(target) ?? defaultPool()).run(target, args, runOptionsOf.get(target));
}

/** Mark `list` (ArrayBuffers, MessagePorts) to be moved, not copied, when `value` is an argument. */
export function transfer<T>(value: T, list: TransferListItem[]): T {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    throw new InvalidOptionTypeError(`transfer() value must be an object (e.g. an ArrayBuffer), got ${describeValue(value)}`);
  }
  if (!Array.isArray(list)) throw new InvalidOptionTypeError(`transfer() list must be an array, got ${describeValue(list)}`);
  transferLists.set(value as object, list);
  return value;
}

function runInline<A extends unknown[], R>(fn: (...args: A) => R, args: A): Promise<Awaited<R>> {
  try {
    return Promise.resolve(fn(...args)) as Promise<Awaited<R>>;
  } catch (error) {
    return Promise.reject(error);
  }
}

function named<F extends (...args: never[]) => unknown>(name: string, fn: F): F {
  Object.defineProperty(fn, 'name', { value: name, configurable: true });
  return fn;
}

/** At most `max` calls at once; the rest start in call order as earlier ones settle. */
function limiter(max: number): <T>(start: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  const release = (): void => {
    active--;
    waiting.shift()?.();
  };
  return <T>(start: () => Promise<T>): Promise<T> => {
    const run = (): Promise<T> => {
      active++;
      const promise = start();
      promise.then(release, release);
      return promise;
    };
    if (active < max) return run();
    return new Promise<void>((resolve) => waiting.push(resolve)).then(run);
  };
}
