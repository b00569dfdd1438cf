/**
 * The app's side of the job queue (API §7): createQueue() and the Queue it returns. It sends a
 * marked function's key and its encoded arguments through a backend (backends/open.ts picks
 * pg-boss or BullMQ by the URL) and decodes what the worker process stored. Nothing connects
 * until the first call that needs the server.
 */
import { isMainThread } from 'node:worker_threads';
import {
  FunctionNotPortableError,
  InvalidOptionTypeError,
  JobCancelledError,
  JobNotFoundError,
  JobWaitTimeoutError,
  QueueClosedError,
} from '../../errors.js';
import { ensureGlobal, QUEUE_BRAND } from '../../shared/globals.js';
import { describeValue } from '../../shared/validate.js';
import { inPoolWorker, markedDefinition } from '../../pool/marking/registry.js';
import type { JobSnapshot, JobState, QueueBackend } from '../backend.js';
import { openBackend, preloadBackend } from '../backends/open.js';
import { decodeError, decodeValue, encodeArguments } from '../payload.js';
import {
  checkJobId,
  resolveEnqueueOptions,
  resolveQueueOptions,
  resolveResultOptions,
  type EnqueueOptions,
  type QueueOptions,
  type ResolvedQueueOptions,
  type ResultOptions,
} from './options.js';
import { QueueStatsRecorder, type QueueFunctionStats } from './stats.js';

type AnyFunction = (...args: never[]) => unknown;

/**
 * Every queue not yet closed, by name: the metrics exporters list them from here (as pools from
 * livePools), so a user need not hand them over. Process-wide: both builds' queues are listed.
 */
const liveQueues = ensureGlobal('liveQueues', () => new Map());

export interface EnqueuedJob {
  id: string;
  state: 'queued';
}

export interface JobStatus<R = unknown> {
  id: string;
  /** The function's key (threaded()'s `name`, by default the function's name). */
  function: string;
  state: JobState;
  /** Attempts started so far. */
  attempts: number;
  /** The decoded result, once completed. */
  result?: R;
  /** The decoded error, once failed (a JobCancelledError once cancelled). */
  error?: Error;
  /** The last value the job reported with progress(). */
  progress?: unknown;
  createdAt: Date;
  startedAt?: Date;
  settledAt?: Date;
}

export type QueueStats = Record<string, QueueFunctionStats>;

/** Make a queue; it connects on first use. Throws at once on an invalid option. */
export function createQueue(options: QueueOptions): Queue {
  return new Queue(options);
}

export class Queue {
  /** What threaded({ queue }) recognises, from either build, without importing this module. */
  readonly [QUEUE_BRAND] = true;
  readonly #options: ResolvedQueueOptions;
  #opening: Promise<QueueBackend> | undefined;
  #closing: Promise<void> | undefined;
  readonly #waits = new Set<AbortController>();
  readonly #stats = new QueueStatsRecorder();

  /** The same as createQueue(options). */
  constructor(options: QueueOptions) {
    this.#options = resolveQueueOptions(options);
    liveQueues.set(this, this.#options.name);
    // A pool thread that imports the marking module never sends a job: nothing to load there.
    if (isMainThread && !inPoolWorker()) preloadBackend(this.#options.url);
  }

  /** The queue's name on the server. */
  get name(): string {
    return this.#options.name;
  }

  /** Store a job for `fn(...args)` and answer at once with its id. */
  async enqueue<A extends unknown[], R>(fn: (...args: A) => R, args: A, options?: EnqueueOptions): Promise<EnqueuedJob> {
    const { id } = await this.#enqueue(fn, args, options);
    return { id, state: 'queued' };
  }

  /** The job as the server holds it now, with its result or error decoded. */
  async status<R = unknown>(id: string): Promise<JobStatus<R>> {
    checkJobId(id);
    const backend = await this.#backend();
    const job = await backend.get(id);
    if (job === undefined) throw new JobNotFoundError(id);
    this.#stats.seen(job);
    const status: JobStatus<R> = { id: job.id, function: job.fn, state: job.state, attempts: job.attempts, createdAt: job.createdAt };
    if (job.state === 'completed' && job.output !== undefined) status.result = decodeValue(job.output) as R;
    if (job.state === 'failed' && job.output !== undefined) status.error = decodeError(job.output);
    if (job.state === 'cancelled') status.error = new JobCancelledError(job.id);
    if (job.progress !== undefined) status.progress = job.progress;
    if (job.startedAt !== undefined) status.startedAt = job.startedAt;
    if (job.settledAt !== undefined) status.settledAt = job.settledAt;
    return status;
  }

  /**
   * Wait for the job's result; rejects with the job's error, JobCancelledError once it is
   * cancelled, JobWaitTimeoutError after `timeout` (the job goes on), QueueClosedError on close().
   */
  async result<R = unknown>(id: string, options?: ResultOptions): Promise<R> {
    checkJobId(id);
    const { timeout, signal } = resolveResultOptions(options);
    const backend = await this.#backend();
    if (signal?.aborted) throw signal.reason;
    const controller = new AbortController();
    this.#waits.add(controller);
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    if (timeout !== Infinity) {
      timer = setTimeout(() => controller.abort(new JobWaitTimeoutError(id, timeout)), timeout);
      timer.unref();
    }
    let job: JobSnapshot;
    try {
      job = await backend.settled(id, controller.signal);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      this.#waits.delete(controller);
    }
    this.#stats.seen(job);
    return outcome<R>(job);
  }

  /** Cancel a queued job (it never runs) or ask a running one to stop. False when it had settled. */
  async cancel(id: string): Promise<boolean> {
    checkJobId(id);
    const backend = await this.#backend();
    return backend.cancel(id);
  }

  /** enqueue() and result() in one call; `signal` cancels the job itself. */
  async run<A extends unknown[], R>(fn: (...args: A) => R, args: A, options?: EnqueueOptions): Promise<Awaited<R>> {
    const { id, detach } = await this.#enqueue(fn, args, options);
    try {
      return await this.result<Awaited<R>>(id, options?.signal === undefined ? undefined : { signal: options.signal });
    } finally {
      detach();
    }
  }

  /** Per function: what this process has seen of its jobs (no round trip to the server). */
  stats(): QueueStats {
    return this.#stats.snapshot();
  }

  /**
   * Close the connections. Pending result() calls reject with QueueClosedError. Idempotent:
   * every caller awaits the same close.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close().finally(() => liveQueues.delete(this));
    return this.#closing;
  }

  async #close(): Promise<void> {
    for (const wait of this.#waits) wait.abort(new QueueClosedError());
    this.#waits.clear();
    const opening = this.#opening;
    if (opening === undefined) return;
    const backend = await opening.catch(() => undefined);
    await backend?.close();
  }

  #backend(): Promise<QueueBackend> {
    if (this.#closing !== undefined) return Promise.reject(new QueueClosedError());
    if (this.#opening === undefined) {
      const { url, name, pollInterval, timeout } = this.#options;
      const opening = openBackend(url, name, { pollInterval, timeout });
      this.#opening = opening;
      // A peer that failed to load may be installed by the next call: try again then.
      opening.catch(() => {
        if (this.#opening === opening) this.#opening = undefined;
      });
    }
    return this.#opening;
  }

  async #enqueue<A extends unknown[]>(
    fn: (...args: A) => unknown,
    args: A,
    options: EnqueueOptions | undefined,
  ): Promise<{ id: string; detach: () => void }> {
    const key = functionKey(fn);
    if (!Array.isArray(args)) {
      throw new InvalidOptionTypeError(`args must be the array of ${key}'s arguments, got ${describeValue(args)}`);
    }
    const resolved = resolveEnqueueOptions(options, this.#options);
    const { signal } = resolved;
    if (signal?.aborted) throw signal.reason;
    const encoded = encodeArguments(key, args, this.#options.maxPayload);
    const backend = await this.#backend();
    const id = await backend.send(
      { fn: key, args: encoded },
      {
        retries: resolved.retries,
        retryDelay: resolved.retryDelay,
        timeout: resolved.timeout,
        priority: resolved.priority,
        delay: resolved.delay,
        ...(resolved.key === undefined ? {} : { key: resolved.key }),
      },
    );
    this.#stats.enqueued(id, key);
    if (signal === undefined) return { id, detach: () => undefined };
    const onAbort = (): void => void backend.cancel(id).catch(() => undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort(); // aborted while the job was being sent
    return { id, detach: () => signal.removeEventListener('abort', onAbort) };
  }
}

/** The key a worker finds `fn` by: its threaded() marking's. */
function functionKey(fn: unknown): string {
  if (typeof fn !== 'function') {
    throw new InvalidOptionTypeError(`fn must be a function marked with threaded(), got ${describeValue(fn)}`);
  }
  const def = markedDefinition(fn as AnyFunction);
  if (def?.key === undefined) {
    const name = (fn as AnyFunction).name || 'the function';
    throw new FunctionNotPortableError(
      `${name} is not marked with threaded(), so a worker process cannot find it: mark it at the top level of ` +
        `a module of its own (export const task = threaded(function task(…) { … }, { queue })) and start the ` +
        `worker with that module`,
    );
  }
  if (/^#\d+$/.test(def.key)) {
    throw new FunctionNotPortableError(
      `this anonymous marked function's key is its place among its module's threaded() calls (${def.key}), which a ` +
        `worker built from another version of the module would map to another function; name it, or mark it with ` +
        `threaded(fn, { name })`,
    );
  }
  return def.key;
}

function outcome<R>(job: JobSnapshot): R {
  if (job.state === 'completed') return (job.output === undefined ? undefined : decodeValue(job.output)) as R;
  if (job.state === 'cancelled') throw new JobCancelledError(job.id);
  throw job.output === undefined ? new Error(`job ${job.id} failed`) : decodeError(job.output);
}
