/**
 * The worker process's side of the queue: take jobs from the backend and run each one's
 * marked function in the worker's own thread pool, so this thread's event loop stays free to
 * renew the jobs' leases however long or CPU-heavy the jobs are (the stalled jobs of BullMQ
 * users whose processors block the loop). With `threads: 0` a job runs inline on this loop
 * instead, as a raw processor does, for jobs that only await I/O: the hop to a pool thread
 * is most of a tiny job's cost.
 */
import { performance } from 'node:perf_hooks';
import { runInContext } from '../../context.js';
import { InvalidOptionTypeError, TaskTimeoutError, UnknownJobFunctionError } from '../../errors.js';
import { runningMonitor, startMonitor } from '../../monitor/monitor.js';
import { ThreadPool, type PoolStats } from '../../pool/main/pool.js';
import { TASK_CONTEXT } from '../../shared/globals.js';
import type { BlockEvent, Monitor } from '../../types.js';
import { JobAttemptFailure, type ActiveJob, type QueueBackend, type WorkHandle } from '../backend.js';
import { openBackend } from '../backends/open.js';
import { decodeArguments, encodeError, encodeResult } from '../payload.js';
import { errorSummary, workerLog, type WorkerLog } from './log.js';
import { loadJobFunctions, type JobFunction } from './modules.js';
import { resolveWorkerOptions, type ResolvedWorkerOptions, type WorkerLogRecord, type WorkerOptions } from './options.js';
import { ProgressRelay } from './progress-relay.js';
import { logServerErrors } from './server-errors.js';
import { drainOnSignals } from './signals.js';

/** setTimeout's limit: the pool refuses a longer task timeout. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** ms between the backend's looks for cancels and lost leases of running jobs: createQueue's default. */
const POLL_INTERVAL = 100;
/** How many of a job's known function names an UnknownJobFunctionError lists. */
const LISTED_FUNCTIONS = 20;

export interface WorkerStats {
  queue: string;
  backend: 'pg-boss' | 'bullmq';
  /** The function keys this worker runs. */
  functions: string[];
  /** Jobs running now. */
  active: number;
  /** Attempts settled on this worker, by outcome (see `WorkerLogRecord.outcome`). */
  completed: number;
  failed: number;
  timeout: number;
  aborted: number;
  rejected: number;
  /** Whether `stop()` was called (or a signal asked the worker to stop). */
  stopping: boolean;
  /** The worker's thread pool; absent with `threads: 0` (jobs run inline, there is no pool). */
  pool?: PoolStats;
}

export interface WorkerHandle {
  /**
   * Stop taking jobs, wait up to `drainTimeout` for the active ones (the rest are given back to
   * the queue, which runs them again elsewhere), end the threads and close the connection.
   * Any number of callers may await it.
   */
  stop(): Promise<void>;
  stats(): WorkerStats;
}

type Outcome = NonNullable<WorkerLogRecord['outcome']>;

/**
 * Start a worker: import `modules`, then run the jobs of queue `name` at `url` whose function
 * they mark with threaded(). Resolves once it is taking jobs; rejects (having closed what it
 * opened) when a module cannot be loaded, two modules mark one key, or the server refuses.
 */
export async function startWorker(options: WorkerOptions): Promise<WorkerHandle> {
  const resolved = resolveWorkerOptions(options);
  const log = workerLog(resolved.log);
  let ownMonitor: Monitor | undefined;
  let backend: QueueBackend | undefined;
  let pool: ThreadPool | undefined;
  try {
    // Before the modules load: a module that blocks while loading is reported too.
    if (resolved.monitor !== false && runningMonitor() === undefined) ownMonitor = startMonitor(resolved.monitor);
    const functions = await loadJobFunctions(resolved.modules, process.cwd());
    if (functions.size === 0) {
      throw new InvalidOptionTypeError(
        `modules: none of the modules marks a function with threaded() under a name (${resolved.modules.join(', ')}); ` +
          `give the worker the modules that call threaded(fn), with a named function or { name }`,
      );
    }
    const opened = await openBackend(resolved.url, resolved.name, { pollInterval: POLL_INTERVAL, timeout: resolved.timeout });
    backend = opened;
    await opened.connect();
    // Threads stay once started: each imports the job modules once, and a worker is idle only between jobs.
    if (resolved.threads > 0) {
      pool = new ThreadPool({ name: `queue ${resolved.name}`, maxThreads: resolved.threads, idleTimeout: Infinity });
    }
    const watching = ownMonitor ?? runningMonitor();
    const worker = new Worker(resolved, opened, pool, functions, log, ownMonitor, watching);
    await worker.start();
    return worker.handle();
  } catch (error) {
    await pool?.destroy().catch(() => {});
    await backend?.close().catch(() => {});
    await ownMonitor?.stop().catch(() => {});
    throw error;
  }
}

class Worker {
  readonly #options: ResolvedWorkerOptions;
  readonly #backend: QueueBackend;
  /** Undefined with `threads: 0`: the jobs run inline. */
  readonly #pool: ThreadPool | undefined;
  readonly #functions: Map<string, JobFunction>;
  readonly #log: WorkerLog;
  readonly #ownMonitor: Monitor | undefined;
  /** The monitor watching this loop (its own or the program's), for the inline jobs' blocks. */
  readonly #monitor: Monitor | undefined;
  #onBlock: ((event: BlockEvent) => void) | undefined;
  #work: WorkHandle | undefined;
  #stopping: Promise<void> | undefined;
  #removeSignals: (() => void) | undefined;
  #unlogServerErrors: (() => void) | undefined;
  readonly #progress: ProgressRelay;
  #active = 0;
  readonly #counts: Record<Outcome, number> = { completed: 0, failed: 0, timeout: 0, aborted: 0, rejected: 0 };

  constructor(
    options: ResolvedWorkerOptions,
    backend: QueueBackend,
    pool: ThreadPool | undefined,
    functions: Map<string, JobFunction>,
    log: WorkerLog,
    ownMonitor: Monitor | undefined,
    monitor: Monitor | undefined,
  ) {
    this.#options = options;
    this.#backend = backend;
    this.#pool = pool;
    this.#functions = functions;
    this.#log = log;
    this.#ownMonitor = ownMonitor;
    this.#progress = new ProgressRelay(options.name, backend.kind);
    this.#monitor = monitor;
  }

  async start(): Promise<void> {
    if (this.#pool === undefined && this.#monitor !== undefined) {
      this.#onBlock = (event) => this.#inlineBlock(event);
      this.#monitor.on('block', this.#onBlock);
    }
    // Before work(): its first fetch may already find the server gone.
    this.#unlogServerErrors = logServerErrors(this.#options.name, this.#log);
    try {
      this.#work = await this.#backend.work({ concurrency: this.#options.concurrency }, (job) => this.#run(job));
    } catch (error) {
      this.#unlogServerErrors();
      if (this.#onBlock !== undefined) this.#monitor?.off('block', this.#onBlock);
      throw error;
    }
    if (this.#options.handleSignals) this.#removeSignals = drainOnSignals((signal) => this.stop(signal), this.#log, this.#options.name);
    this.#log({
      msg: 'worker started',
      queue: this.#options.name,
      backend: this.#backend.kind,
      functions: [...this.#functions.keys()],
      concurrency: this.#options.concurrency,
      threads: this.#options.threads,
    });
  }

  handle(): WorkerHandle {
    return { stop: () => this.stop(), stats: () => this.stats() };
  }

  stats(): WorkerStats {
    return {
      queue: this.#options.name,
      backend: this.#backend.kind,
      functions: [...this.#functions.keys()],
      active: this.#active,
      ...this.#counts,
      stopping: this.#stopping !== undefined,
      ...(this.#pool === undefined ? {} : { pool: this.#pool.stats() }),
    };
  }

  stop(signal?: NodeJS.Signals): Promise<void> {
    this.#stopping ??= this.#stop(signal);
    return this.#stopping;
  }

  async #stop(signal: NodeJS.Signals | undefined): Promise<void> {
    this.#log({
      msg: 'worker stopping',
      queue: this.#options.name,
      active: this.#active,
      drainTimeout: this.#options.drainTimeout,
      ...(signal === undefined ? {} : { signal }),
    });
    try {
      await this.#work?.stop(this.#options.drainTimeout);
    } finally {
      // Jobs still running past the drain were given back to the queue: their threads end now.
      // Inline jobs past the drain cannot be ended: they run on, their results dropped.
      await (this.#active === 0 ? this.#pool?.close() : this.#pool?.destroy())?.catch(() => {});
      try {
        await this.#backend.close();
      } finally {
        if (this.#onBlock !== undefined) this.#monitor?.off('block', this.#onBlock);
        await this.#ownMonitor?.stop().catch(() => {});
        this.#removeSignals?.();
        this.#unlogServerErrors?.();
        this.#progress.close();
        this.#log({ msg: 'worker stopped', queue: this.#options.name, ...this.#counts });
      }
    }
  }

  /**
   * One attempt of one job: its resolved value is the encoded result. All of it runs in the
   * job's context, so a block of this thread's loop while it runs (decoding, encoding, a
   * logger, the backend's calls) is attributed { job, id }. The function itself runs in a pool
   * thread, which the monitor does not watch: a block there holds no loop of the worker's.
   * With `threads: 0` it runs here, inside the same context, so its own blocks are attributed
   * too (and #inlineBlock says what they cost).
   */
  #run(job: ActiveJob): Promise<string> {
    return runInContext({ job: job.fn, id: job.id }, () => this.#attempt(job));
  }

  async #attempt(job: ActiveJob): Promise<string> {
    const start = performance.now();
    const { id, attempt } = job;
    const queue = this.#options.name;
    const maxPayload = this.#options.maxPayload;
    this.#active += 1;
    this.#log({ msg: 'job started', queue, fn: job.fn, id, attempt });
    const settle = (outcome: Outcome, error?: unknown): void => {
      this.#active -= 1;
      this.#counts[outcome] += 1;
      const ms = Math.round(performance.now() - start);
      const record: WorkerLogRecord = { msg: 'job settled', queue, fn: job.fn, id, attempt, ms, outcome };
      if (error !== undefined) record.error = errorSummary(error);
      this.#log(record, outcome === 'completed' ? 'info' : 'warn');
    };
    const known = this.#functions.get(job.fn);
    if (known === undefined) {
      const error = this.#unknownFunction(job.fn);
      settle('rejected', error);
      throw new JobAttemptFailure(error.message, encodeError(error, maxPayload), false);
    }
    let args: unknown[];
    try {
      args = decodeArguments(job.args);
    } catch (error) {
      // Not made by payload.ts (another program, another version): no attempt can read it.
      settle('rejected', error);
      throw new JobAttemptFailure(`cannot read the arguments of job ${id}`, encodeError(error, maxPayload), false);
    }
    let value: unknown;
    try {
      const timeout = taskTimeout(job.timeout);
      value = await (this.#pool === undefined
        ? runInline(known.fn, args as never[], timeout, job.signal)
        : this.#pool.run(known.fn, args as never[], {
            timeout,
            signal: job.signal,
            [TASK_CONTEXT]: this.#progress.contextFor(job),
          } as Parameters<ThreadPool['run']>[2]));
    } catch (error) {
      // A timeout first: a backend may enforce the job's timeout itself, through the signal.
      const outcome: Outcome = isTimeout(error) ? 'timeout' : job.signal.aborted ? 'aborted' : 'failed';
      settle(outcome, error);
      throw new JobAttemptFailure(errorSummary(error).message, encodeError(error, maxPayload), true);
    } finally {
      // The last value reported before the end is written before the outcome, which keeps it.
      const settling = this.#progress.settle(job);
      if (settling !== undefined) await settling;
    }
    let output: string;
    try {
      output = encodeResult(job.fn, value, maxPayload);
    } catch (error) {
      // Over maxPayload: running it again makes the same result.
      settle('rejected', error);
      throw new JobAttemptFailure(errorSummary(error).message, encodeError(error, maxPayload), false);
    }
    settle('completed');
    return output;
  }

  /**
   * A block of this loop inside an inline job: while it lasts no lease of any job here is
   * renewed and no cancel is seen, so the server may give the jobs to another worker. Said
   * in the worker's own log, with the way out, beside the monitor's report of the block.
   */
  #inlineBlock(event: BlockEvent): void {
    const fn = event.context?.job;
    if (typeof fn !== 'string' || !this.#functions.has(fn)) return;
    this.#log(
      {
        msg: 'inline job blocked the loop',
        queue: this.#options.name,
        fn,
        ...(typeof event.context?.id === 'string' ? { id: event.context.id } : {}),
        ms: event.duration,
        hint:
          `the worker runs jobs inline (threads: 0), so while ${fn} blocks the event loop no job's lease is renewed ` +
          `and its timeout cannot stop it; run ${fn} on a worker with threads >= 1 (--threads 1 or more)`,
      },
      'warn',
    );
  }

  #unknownFunction(fn: string): UnknownJobFunctionError {
    const keys = [...this.#functions.keys()];
    const listed = keys.slice(0, LISTED_FUNCTIONS).join(', ') + (keys.length > LISTED_FUNCTIONS ? `, … (${keys.length} in all)` : '');
    return new UnknownJobFunctionError(
      fn,
      `no function "${fn}" on this worker of queue "${this.#options.name}" (it runs ${listed}); ` +
        `start the worker with the module that marks it, or check threaded()'s name for it`,
    );
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof TaskTimeoutError || (error as { code?: unknown } | null)?.code === 'ERR_LOOPGUARD_TASK_TIMEOUT';
}

/**
 * One inline attempt, settled as the pool settles a task: its value or error, TaskTimeoutError
 * past `timeout`, the signal's reason once it aborts. Nothing can stop the function on this
 * thread, so past its timeout or on an abort it is only abandoned: it runs on, its outcome is
 * dropped (caught, so a late rejection is not an unhandled one).
 */
function runInline(fn: (...args: never[]) => unknown, args: never[], timeout: number, signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  const started = performance.now();
  let result: unknown;
  try {
    result = fn(...args);
  } catch (error) {
    return Promise.reject(error as Error);
  }
  // Aborted while the function ran (by the function itself, since nothing else runs meanwhile):
  // the reason, as when the listener was set before the call.
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  // A function that returned a value (not a promise) has settled: no timer and no abort
  // listener can act on it any more (neither fires during a synchronous call), so none is
  // made: a burst of tiny jobs paid for a timer and a listener each. (Before, an abort in a
  // microtask between the return and the value's own microtask won; now the value does.)
  if (!isThenable(result)) return Promise.resolve(result);
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => settle(() => reject(signal.reason as Error));
    const settle = (done: () => void): void => {
      if (timer !== undefined) clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      done();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    if (timeout !== Infinity) {
      // The timeout counts from the call, its synchronous part included.
      timer = setTimeout(() => settle(() => reject(new TaskTimeoutError(timeout))), Math.max(0, timeout - (performance.now() - started)));
      timer.unref();
    }
    Promise.resolve(result).then(
      (value) => settle(() => resolve(value)),
      (error: unknown) => settle(() => reject(error as Error)),
    );
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** The pool's timeout for a job's: none for 0 (or beyond setTimeout's range), else the job's. */
function taskTimeout(timeout: number): number {
  return timeout > 0 && timeout <= MAX_TIMER_MS ? timeout : Infinity;
}
