/**
 * The one small interface both job-queue backends implement: pg-boss on PostgreSQL
 * (`backends/pg-boss.ts`) and BullMQ on Redis (`backends/bullmq.ts`). It is the protocol of
 * the process boundary: the app's side (`main/`) sends and watches jobs, the worker process
 * (`worker/`) takes and settles them, and neither knows which server is behind it.
 *
 * Everything a backend stores is opaque text made by `payload.ts` (v8 serialisation, base64):
 * both servers keep job data as JSON, and v8's format is what keeps Date, Map, Set, BigInt,
 * Buffer and typed arrays, as they keep across a thread. A backend never decodes it.
 */

export type JobState = 'queued' | 'active' | 'completed' | 'failed' | 'cancelled';

/**
 * Times a job may lose its lease (its worker died: SIGKILL, out of memory, the machine lost)
 * and still run again, beyond its `retries`. Delivery is at least once even with `retries: 0`,
 * as both servers' own defaults have it (BullMQ's maxStalledCount 1, pg-boss's retryLimit 2);
 * a job that kills every worker that takes it fails with WorkerCrashedError after this many.
 */
export const LEASE_LOSSES = 1;

/** What the app sends: the marked function's key and its encoded arguments. */
export interface JobInput {
  /** The function's key: threaded()'s `name` (by default `fn.name`). */
  fn: string;
  /** `payload.ts`'s encoding of the argument list. */
  args: string;
}

/** Per-job options, validated and defaulted by the app's side before they reach a backend. */
export interface SendOptions {
  /** Attempts after the first (0 = run once). */
  retries: number;
  /** ms before the first retry; each later one waits twice as long as the one before (backoff). */
  retryDelay: number;
  /**
   * ms one attempt may run. It is also the lease: a job whose worker died (SIGKILL, OOM, the
   * machine lost) is taken again by another worker within about twice this.
   */
  timeout: number;
  /**
   * Deduplication: while a job with this key is queued or active, sending another returns the
   * first one's id instead of a new job.
   */
  key?: string;
  /** Higher runs first. */
  priority: number;
  /** ms before the job may start. */
  delay: number;
}

/** One job as the server holds it. */
export interface JobSnapshot {
  id: string;
  fn: string;
  state: JobState;
  /** Attempts started so far (1 while the first one runs). */
  attempts: number;
  /** `payload.ts`'s encoding of the result (completed) or of the error (failed); absent otherwise. */
  output?: string;
  /** The last value the job reported with `progress()`; JSON. */
  progress?: unknown;
  createdAt: Date;
  startedAt?: Date;
  settledAt?: Date;
}

/** A job a worker has taken. */
export interface ActiveJob {
  id: string;
  fn: string;
  args: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** This attempt's timeout (SendOptions.timeout). */
  timeout: number;
  /** Aborted when the job is cancelled while it runs, or when the worker loses its lease. */
  signal: AbortSignal;
  /** Store a JSON progress value that `status()` returns. */
  progress(value: unknown): Promise<void>;
}

/**
 * How a handler says an attempt failed: `output` is the encoded error, stored for `status()`
 * and `result()`; `retry: false` fails the job at once whatever its retries (an unknown
 * function, a payload over the limit: trying again cannot help).
 */
export class JobAttemptFailure extends Error {
  readonly output: string;
  readonly retry: boolean;
  constructor(message: string, output: string, retry = true) {
    super(message);
    this.name = 'JobAttemptFailure';
    this.output = output;
    this.retry = retry;
  }
}

export interface WorkOptions {
  /** Jobs this process runs at once. */
  concurrency: number;
}

export interface WorkHandle {
  /**
   * Stop taking jobs; wait up to `drain` ms for the active ones to settle, then give the rest
   * up so that another worker takes them (their lease runs out, or they are released now).
   */
  stop(drain: number): Promise<void>;
}

/** Counts by state, for `queue.stats()` and the exporters. */
export type JobCounts = Record<JobState, number>;

export interface QueueBackend {
  readonly kind: 'pg-boss' | 'bullmq';
  /** The queue's name on the server. */
  readonly name: string;
  /** Connect (idempotent; the first send/get/work calls it). Rejects with the server's error. */
  connect(): Promise<void>;
  /** Store a job and return its id (the existing job's id when `key` deduplicates). */
  send(job: JobInput, options: SendOptions): Promise<string>;
  /** The job, or undefined when the server holds no job with that id. */
  get(id: string): Promise<JobSnapshot | undefined>;
  /**
   * Cancel a queued job (it never runs) or ask a running one to stop (its worker's
   * `ActiveJob.signal` aborts). Resolves false when the job had already settled.
   */
  cancel(id: string): Promise<boolean>;
  /**
   * Resolve with the job once it is completed, failed or cancelled. Rejects with `signal`'s
   * reason when it aborts first. Both backends may poll; they must not hold the process open
   * (unref their timers) beyond the pending call's own promise.
   */
  settled(id: string, signal: AbortSignal): Promise<JobSnapshot>;
  /**
   * Take jobs and run `handler` for each: its resolved value is the encoded result; a
   * `JobAttemptFailure` (or any error) fails the attempt, retried as the job's options say.
   */
  work(options: WorkOptions, handler: (job: ActiveJob) => Promise<string>): Promise<WorkHandle>;
  /** Jobs of this queue by state. */
  counts(): Promise<JobCounts>;
  /** Close connections; pending `settled()` calls reject with QueueClosedError. */
  close(): Promise<void>;
}

/** What the app's side (createQueue) and the worker pass every backend when they open it. */
export interface BackendOptions {
  /** ms between two looks at the server by a backend that polls (settled(), a running job's cancel). */
  pollInterval: number;
  /**
   * The queue's default job timeout in ms: a backend whose lease expiry runs on a timer of its
   * own (pg-boss's supervision) sizes that timer from it, so that a dead worker's job runs again
   * within about twice its timeout.
   */
  timeout: number;
}

/** What `backends/pg-boss.ts` and `backends/bullmq.ts` each export, loaded by `backends/open.ts`. */
export type OpenBackend = (url: string, name: string, options: BackendOptions) => Promise<QueueBackend>;
