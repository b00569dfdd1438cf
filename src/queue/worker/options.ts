import { InvalidOptionRangeError, InvalidOptionTypeError } from '../../errors.js';
import { checkBoolean, checkNumber, checkOptionsObject, checkString, describeValue } from '../../shared/validate.js';
import type { MonitorOptions } from '../../types.js';
import { DEFAULT_MAX_PAYLOAD } from '../payload.js';

/** The most threads one pool may have (the pool's own limit). */
const MAX_THREADS = 256;
/** setTimeout's limit. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One record of the worker's log: a job started or settled, or the worker's own start and stop. */
export interface WorkerLogRecord {
  /** `queue error`: what the backend retries (the server unreachable), at most one line per operation every 5 s. */
  msg: 'worker started' | 'worker stopping' | 'worker stopped' | 'job started' | 'job settled' | 'queue error' | 'inline job blocked the loop';
  /** The queue's name. */
  queue: string;
  /** The job's function key (job records). */
  fn?: string;
  id?: string;
  attempt?: number;
  /** ms from the job's start on this worker to its settling (`job settled`). */
  ms?: number;
  /**
   * `completed`; `failed` (it threw; the queue retries it if it has retries left); `timeout`
   * (over its timeout; retried likewise); `aborted` (cancelled, or the lease was lost);
   * `rejected` (cannot run here, never retried: an unknown function, unreadable arguments,
   * a result over `maxPayload`).
   */
  outcome?: 'completed' | 'failed' | 'timeout' | 'aborted' | 'rejected';
  /** The error's name, code and message when the attempt did not complete. */
  error?: { name: string; code?: string; message: string };
  [key: string]: unknown;
}

/** A logger such as pino's: `info(obj, msg)` for job records, `warn` for failures when it has one. */
export interface WorkerLogger {
  info(obj: unknown, msg?: string): void;
  warn?(obj: unknown, msg?: string): void;
}

export interface WorkerOptions {
  /** `postgres://…` (pg-boss) or `redis://…` (BullMQ), as for `createQueue`. */
  url: string;
  /** The queue's name, as given to `createQueue` by the app. */
  name: string;
  /**
   * The modules that mark the job functions with `threaded()`: paths (resolved from the
   * current directory) or `file:` URLs. Modules they import count too.
   */
  modules: readonly string[];
  /** Jobs this process runs at once. @default 1 */
  concurrency?: number;
  /**
   * Threads of the worker's own pool that run the jobs. `0`: no pool, each job runs inline on
   * the worker's own event loop, as a raw BullMQ or pg-boss processor does: for jobs that only
   * await I/O, where the hop to a thread is most of their cost. A job that blocks that loop
   * also stops the worker renewing its jobs' leases (they may run again elsewhere), and one
   * past its timeout or cancelled is only abandoned, never stopped: the worker logs a warning
   * (`inline job blocked the loop`) when the monitor sees one block it; run such a function
   * with threads ≥ 1.
   * @default concurrency
   */
  threads?: number;
  /** ms `stop()` (and SIGTERM) waits for active jobs before giving them back to the queue. @default 30000 */
  drainTimeout?: number;
  /**
   * The queue's default job timeout, as given to `createQueue` (ms). A backend that looks for
   * the jobs of dead workers on a timer (pg-boss) looks every half of it (1 to 60 s), so that
   * such a job runs again within about twice its timeout.
   * @default 60000, createQueue's default
   */
  timeout?: number;
  /** Largest result, serialised, in bytes; beyond it the job fails with `PayloadTooLargeError`. @default 1 MiB */
  maxPayload?: number;
  /**
   * `'json'`: one JSON line on stderr per job start and settle (and the worker's own start
   * and stop); `false`: none; or a logger (`info(obj, msg)`, e.g. pino).
   * @default 'json'
   */
  log?: 'json' | false | WorkerLogger;
  /**
   * Options for the monitor the worker starts (or the running one is used as it is); `false`
   * starts none.
   * @default {}
   */
  monitor?: MonitorOptions | false;
  /**
   * Drain on SIGTERM and SIGINT, then exit 0 (a second signal exits at once). For a process
   * that is only a worker; leave it off inside a program that handles its own signals.
   * The CLI (`loopguard worker`) turns it on.
   * @default false
   */
  handleSignals?: boolean;
}

export interface ResolvedWorkerOptions {
  url: string;
  name: string;
  modules: string[];
  concurrency: number;
  threads: number;
  drainTimeout: number;
  timeout: number;
  maxPayload: number;
  log: 'json' | false | WorkerLogger;
  monitor: MonitorOptions | false;
  handleSignals: boolean;
}

const WORKER_OPTIONS = [
  'url',
  'name',
  'modules',
  'concurrency',
  'threads',
  'drainTimeout',
  'timeout',
  'maxPayload',
  'log',
  'monitor',
  'handleSignals',
] as const;

export function resolveWorkerOptions(options: unknown): ResolvedWorkerOptions {
  if (options === undefined) throw new InvalidOptionTypeError('startWorker() needs options: { url, name, modules }');
  const given = checkOptionsObject('worker options', options, WORKER_OPTIONS);
  const url = checkString('url', given.url);
  const name = checkString('name', given.name);
  if (!Array.isArray(given.modules) || given.modules.length === 0) {
    throw new InvalidOptionTypeError(`modules must be a non-empty array of module paths, got ${describeValue(given.modules)}`);
  }
  const modules = (given.modules as unknown[]).map((module, index) => checkString(`modules[${index}]`, module));
  const concurrency =
    given.concurrency === undefined ? 1 : checkNumber('concurrency', given.concurrency, { min: 1, max: 10_000, integer: true });
  const threads =
    given.threads === undefined
      ? Math.min(concurrency, MAX_THREADS)
      : checkNumber('threads', given.threads, { min: 0, max: MAX_THREADS, integer: true });
  const drainTimeout =
    given.drainTimeout === undefined
      ? 30_000
      : checkNumber('drainTimeout', given.drainTimeout, { min: 0, max: MAX_TIMER_MS, integer: true });
  const timeout =
    given.timeout === undefined ? 60_000 : checkNumber('timeout', given.timeout, { min: 1, max: MAX_TIMER_MS, integer: true });
  const maxPayload =
    given.maxPayload === undefined ? DEFAULT_MAX_PAYLOAD : checkNumber('maxPayload', given.maxPayload, { min: 1, integer: true });
  let log: ResolvedWorkerOptions['log'] = 'json';
  if (given.log !== undefined) {
    if (given.log === 'json' || given.log === false) log = given.log;
    else if (given.log !== null && typeof given.log === 'object' && typeof (given.log as WorkerLogger).info === 'function') {
      log = given.log as WorkerLogger;
    } else {
      throw new InvalidOptionTypeError(
        `log must be 'json', false or a logger with an info(obj, msg) method, got ${describeValue(given.log)}`,
      );
    }
  }
  let monitor: MonitorOptions | false = {};
  if (given.monitor !== undefined) {
    if (given.monitor === false) monitor = false;
    else if (given.monitor !== null && typeof given.monitor === 'object' && !Array.isArray(given.monitor)) {
      monitor = given.monitor as MonitorOptions;
    } else {
      throw new InvalidOptionTypeError(`monitor must be the monitor's options or false, got ${describeValue(given.monitor)}`);
    }
  }
  const handleSignals = given.handleSignals === undefined ? false : checkBoolean('handleSignals', given.handleSignals);
  if (threads > concurrency) {
    // More threads than jobs at once would only sit idle: a job runs on one thread.
    throw new InvalidOptionRangeError(`threads must be <= concurrency (${concurrency}): a job runs on one thread, got ${threads}`);
  }
  return { url, name, modules, concurrency, threads, drainTimeout, timeout, maxPayload, log, monitor, handleSignals };
}
