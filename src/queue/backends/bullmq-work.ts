/**
 * The worker's side of the BullMQ backend: a BullMQ Worker whose processor turns each job into
 * an `ActiveJob`, holds the job's lease, and records the outcome the way `bullmq.ts` reads it.
 *
 * The lease. BullMQ's lock is per Worker (`lockDuration`, renewed every `lockRenewTime`) and a
 * lock that lapses is noticed by the stalled check that some live worker of the queue runs every
 * `stalledInterval` (once per interval queue-wide: a PX key guards it). A job is found stalled at
 * the first check that sees it in the stalled set (every check puts each active job there, every
 * renewal takes it out) with its lock gone, so a job whose worker vanished runs again after at
 * most max(lease, interval) + interval. We want that within about twice the job's `timeout`, and
 * the worker runs jobs with different timeouts, so the lease is per job: BullMQ's own renewal is
 * off (`skipLockRenewal`) and each job extends its own lock to `lease = clamp(timeout / 2, 1 s,
 * 30 s)` every lease/3 (a missed renewal or two still holds it). BullMQ takes a job with the
 * worker's lockDuration, 1 s, and the first extension comes after 250 ms. The stalled
 * interval is `clamp(queue timeout / 2, 100 ms, 1 s)` (bullmq.ts): so a job runs again within
 * timeout / 2 + 1 s (≤ 2 × timeout from a timeout of 0.7 s), one with a timeout under 2 s
 * within 2 s, and a long one within 31 s. The renewal runs on this process's event loop, which
 * the thread pool keeps free; if it fails (the lock is someone else's) the attempt's signal
 * aborts, so a job runs twice at once only when a worker is cut off from Redis for longer than
 * its lease. The attempt itself ends at `timeout` (below).
 *
 * Attempts. BullMQ counts failures (`attemptsMade`) and starts (`attemptsStarted`), and moves a
 * stalled job back to wait without counting a failure. A handler's failures use up `attempts`
 * (retries + 1), as BullMQ's own rule has it; a start that ended in neither a failure nor a
 * result lost its lease (its worker died), and a job may lose it LEASE_LOSSES times (backend.ts)
 * and still run: one more loss fails it at once, without running, with WorkerCrashedError. So
 * BullMQ's maxStalledCount is set out of the way and the processor counts the losses itself.
 */
import type { Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { JobCancelledError, QueueClosedError, TaskTimeoutError, WorkerCrashedError } from '../../errors.js';
import { JobAttemptFailure, LEASE_LOSSES, type ActiveJob, type WorkHandle, type WorkOptions } from '../backend.js';
import { encodeError } from '../payload.js';

/** What bullmq.ts hands the worker side: the loaded modules and the queue's key names. */
export interface WorkContext {
  bullmq: typeof import('bullmq');
  IORedis: typeof Redis;
  url: string;
  name: string;
  prefix: string;
  stalledInterval: number;
  /** The backend's command connection (markers and outputs). */
  commands: Redis;
  /** To the `loopguard:queue:error` diagnostics channel. */
  publishError(error: unknown): void;
  jobKey(id: string): string;
  keys: { cancelChannel: string };
  fields: { output: string; cancel: string };
}

/**
 * What a completed attempt hands BullMQ as its returnvalue: the encoded result and the fields of
 * the job's snapshot, so that the app's settled() resolves from the 'completed' event alone
 * (bullmq-watch.ts) instead of reading the job once more.
 */
export interface CompletedRecord {
  /** `payload.ts`'s encoding of the result. */
  output: string;
  fn: string;
  attempts: number;
  createdAt: number;
  startedAt: number;
  settledAt: number;
  /** The last progress() value, when this attempt reported one. */
  progress?: unknown;
  /** False when an earlier attempt may have reported progress and this one did not: read the job. */
  whole: boolean;
}

/** The encoded result in a completed job's returnvalue (a CompletedRecord, or the bare text). */
export function completedOutput(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const output = (value as Partial<CompletedRecord> | null)?.output;
  return typeof output === 'string' ? output : undefined;
}

/** The job data this backend stores: what the app sent, plus the attempt's timeout. */
export interface StoredJobData {
  fn: string;
  args: string;
  timeout: number;
}

/**
 * Whether `promise` settles within `ms`. Shutdown is bounded with it: with Redis away, ioredis
 * keeps commands in its offline queue and BullMQ's close() would wait for them for ever.
 */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long a give-up or a close may wait for Redis before its connections are dropped. */
export const SHUTDOWN_GRACE = 1000;

const LEASE_MIN = 1000;
const FIRST_RENEWAL = LEASE_MIN / 4;
const LEASE_MAX = 30_000;

/** How long, and for how many jobs, a cancel message that found no running job is kept. */
const NOT_STARTED_MS = 10_000;
const NOT_STARTED_MAX = 1000;

export function leaseFor(timeout: number): number {
  return Math.min(Math.max(timeout / 2, LEASE_MIN), LEASE_MAX);
}

interface Running {
  /** Aborts the attempt's signal with JobCancelledError (a cancel message for this job). */
  cancel(): void;
  /** Settles the processor early when the worker gives the job up at the end of a drain. */
  giveUp(): Promise<void>;
}

export async function startBullMQWorker(
  context: WorkContext,
  options: WorkOptions,
  handler: (job: ActiveJob) => Promise<string>,
): Promise<WorkHandle> {
  const { bullmq, commands, fields } = context;
  const running = new Map<string, Running>();
  /** Cancel messages for jobs not running here, by id → when (see the subscriber below). */
  const notStarted = new Map<string, number>();
  let stopping = false;

  const unrecoverable = (message: string) => new bullmq.UnrecoverableError(message);

  /**
   * A failed attempt's encoded error, stored for get(), and in the same round trip whether the
   * job's cancel was requested (then the attempt must not be retried).
   */
  const storeFailure = async (id: string, output: string): Promise<{ cancelled: boolean }> => {
    const answers = await commands.multi().hset(context.jobKey(id), fields.output, output).hget(context.jobKey(id), fields.cancel).exec();
    return { cancelled: answers?.[1]?.[1] !== null && answers?.[1]?.[1] !== undefined };
  };

  // Two parameters, no `signal`: BullMQ makes a per-job AbortController (worker.cancelJob) only
  // for a processor whose declared length is at least 3. A cancel message aborts the attempt
  // through `running` instead (the subscriber below), which saves a controller and a listener
  // a job: a burst of tiny jobs pays for each. BullMQ calls the processor in the turn it tracks
  // the job, and the processor enters `running` in its first turn, so a message finds the job
  // in `running` or, before that, in `notStarted`, as it found it in BullMQ's tracking before.
  const processor = async (job: Job, token: string | undefined): Promise<CompletedRecord> => {
    const id = job.id as string;
    const data = job.data as StoredJobData;
    const attempts = job.opts.attempts ?? 1;
    const controller = new AbortController();
    /** Ends the attempt (below) once it runs: set by its promise, called by abort(). */
    let end: ((reason: unknown) => void) | undefined;
    // Only this aborts the signal, so the attempt ends here rather than through a listener.
    const abort = (reason: unknown) => {
      if (controller.signal.aborted) return;
      controller.abort(reason);
      end?.(reason);
    };
    const early = notStarted.get(id);
    if (early !== undefined) {
      notStarted.delete(id);
      if (Date.now() - early < NOT_STARTED_MS) abort(new JobCancelledError(id));
    }

    let leaseLost = false;
    const lease = leaseFor(data.timeout);
    const renew = async () => {
      try {
        if ((await job.extendLock(token ?? '', lease)) === 0 && !leaseLost) {
          leaseLost = true;
          abort(new QueueClosedError(`job ${id} lost its lease (another worker may run it now)`));
        }
      } catch {
        // Redis unreachable: the lock may still hold; the next renewal tells.
      }
    };
    // One timer an attempt (a burst of tiny jobs pays for each): it renews the lease every
    // lease/3 and ends the attempt at its timeout (through abort(), below), then goes on renewing
    // until the outcome is recorded. BullMQ took the job with the worker's lockDuration
    // (LEASE_MIN): the first renewal, to the job's own lease, comes well inside it, so a short job
    // never pays for one.
    // The monotonic clock: a step of the wall clock moves no deadline. A timer may fire a
    // little early by it (its start is the loop's cached time): it then waits the rest.
    const started = performance.now();
    const deadline = started + data.timeout;
    let nextRenewal = started + Math.min(lease / 3, FIRST_RENEWAL);
    let timer: NodeJS.Timeout | undefined;
    // Once the attempt is aborted (its timeout, a cancel, the lease lost), only renewals are due.
    const arm = (now: number): void => {
      timer = setTimeout(wake, Math.max(0, (controller.signal.aborted ? nextRenewal : Math.min(nextRenewal, deadline)) - now));
      timer.unref();
    };
    const wake = (): void => {
      const now = performance.now();
      if (now >= deadline && !controller.signal.aborted) abort(new TaskTimeoutError(data.timeout));
      if (now >= nextRenewal) {
        void renew();
        nextRenewal = now + lease / 3;
      }
      arm(now);
    };
    arm(started);

    running.set(id, {
      cancel: () => abort(new JobCancelledError(id)),
      giveUp: async () => {
        clearTimeout(timer);
        leaseLost = true;
        // Released now rather than left to its lease; the start we made does not count as an
        // attempt, since the job never ran to an outcome. Released before the abort below
        // settles the attempt, so that BullMQ's moveToFailed finds no lock and changes nothing.
        // A job already gone (cancelled, its lock lapsed), or Redis away: the stalled check
        // hands it on once its lease runs out.
        const release = commands.hincrby(context.jobKey(id), 'ats', -1).then(() => job.moveToWait(token));
        await within(release, SHUTDOWN_GRACE);
        abort(new QueueClosedError(`worker stopped before job ${id} settled; it goes back to the queue`));
      },
    });

    try {
      // A job cancelled before it was taken never gets here: the cancel set BullMQ's deferred
      // failure (bullmq.ts), with which BullMQ fails it without calling this processor.
      // Starts before this one that ended in neither a failure nor a result: lost leases.
      const leasesLost = job.attemptsStarted - 1 - job.attemptsMade;
      if (leasesLost > LEASE_LOSSES) {
        const crashed = new WorkerCrashedError(
          `job ${id} (${data.fn}) lost its lease ${leasesLost} times without settling: each worker that took it died or stopped answering`,
        );
        await commands.hset(context.jobKey(id), fields.output, encodeError(crashed));
        throw unrecoverable(crashed.message);
      }
      let progressed: { value: unknown } | undefined;
      const active: ActiveJob = {
        id,
        fn: data.fn,
        args: data.args,
        attempt: job.attemptsStarted,
        timeout: data.timeout,
        signal: controller.signal,
        progress: (value) => {
          progressed = { value };
          return job.updateProgress(value as object);
        },
      };
      // The attempt ends at its timeout, or when its signal aborts (cancel, lease lost, stop),
      // whether or not the handler heeds the signal: the thread pool under it has its own
      // timeout, this one is the backend's guarantee (as on pg-boss).
      // One promise that rejects on the abort (the timeout's among them), with no listener.
      const ended = new Promise<never>((_, reject) => {
        if (controller.signal.aborted) reject(controller.signal.reason);
        end = reject;
      });
      ended.catch(() => {});
      let output: string;
      try {
        // Cancelled before it started (a message kept above): not run at all.
        if (controller.signal.aborted) throw controller.signal.reason;
        output = await Promise.race([handler(active), ended]);
      } catch (error) {
        if (leaseLost) throw error;
        const failure = error instanceof JobAttemptFailure ? error : undefined;
        const { cancelled } = await storeFailure(id, failure ? failure.output : encodeError(error));
        if (cancelled) throw unrecoverable(`job ${id} was cancelled`);
        const message = error instanceof Error ? error.message : String(error);
        if (job.attemptsMade + 1 >= attempts || failure?.retry === false) throw unrecoverable(message);
        throw new Error(message, { cause: error });
      }
      // No look for a cancel here: a job that completes after its cancel was requested reads
      // 'cancelled' (bullmq.ts), so the result goes straight into BullMQ's completion.
      const record: CompletedRecord = {
        output,
        fn: job.name,
        attempts: Math.min(job.attemptsStarted, attempts + LEASE_LOSSES),
        createdAt: job.timestamp,
        startedAt: job.processedOn ?? Date.now(),
        settledAt: Date.now(),
        whole: progressed !== undefined || job.attemptsStarted <= 1,
      };
      if (progressed !== undefined) record.progress = progressed.value;
      return record;
    } finally {
      clearTimeout(timer);
      running.delete(id);
    }
  };

  const worker: Worker = new bullmq.Worker(context.name, processor, {
    connection: { url: context.url, maxRetriesPerRequest: null },
    prefix: context.prefix,
    concurrency: options.concurrency,
    skipLockRenewal: true,
    lockDuration: LEASE_MIN,
    stalledInterval: context.stalledInterval,
    maxStalledCount: Number.MAX_SAFE_INTEGER,
  });
  // An 'error' without a listener would crash the worker process; connection errors are
  // retried by ioredis and a failed completion leaves the job to the stalled check.
  worker.on('error', (error) => context.publishError(error));

  // Cancel of a running job: the app publishes the id; the marker in the job's hash (set first)
  // covers a message that arrives before the job starts or while this subscriber reconnects.
  const subscriber = new context.IORedis(context.url, { maxRetriesPerRequest: null });
  subscriber.on('error', (error) => context.publishError(error));
  subscriber.on('message', (_channel: string, id: string) => {
    // A message for a job this worker has taken but not yet started is kept for its start (the
    // job's deferred failure came too late for it); one for another worker's job ages out.
    const entry = running.get(id);
    if (entry !== undefined) {
      entry.cancel();
      return;
    }
    notStarted.set(id, Date.now());
    if (notStarted.size > NOT_STARTED_MAX) notStarted.delete(notStarted.keys().next().value as string);
  });
  await Promise.all([subscriber.subscribe(context.keys.cancelChannel), worker.waitUntilReady()]);

  return {
    async stop(drain: number) {
      if (stopping) return;
      stopping = true;
      const closing = worker.close();
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        closing.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), drain);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
      if (!drained) {
        await Promise.all([...running.values()].map((entry) => entry.giveUp()));
        // Redis away: drop the worker's connections, which fails the commands it queued, so
        // that close() finishes; the jobs it held go on to the stalled check.
        if (!(await within(closing, SHUTDOWN_GRACE))) await within(worker.disconnect(), SHUTDOWN_GRACE);
      }
      await within(closing, SHUTDOWN_GRACE);
      subscriber.disconnect();
    },
  };
}
