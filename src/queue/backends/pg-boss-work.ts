/**
 * The pg-boss backend's worker side: a loop over `fetch()` that keeps `concurrency` jobs
 * running, runs each through the handler with its own timeout and signal, and settles it
 * fenced to its attempt (`{ id, retryCount }`: a job cancelled or taken again since is left alone).
 *
 * Not pg-boss's `work()`: that waits out its polling interval (0.5 s at least) after every
 * job even with a backlog, and stores outputs of its own. Here a free slot fetches again at
 * once, and only an empty fetch waits `pollInterval`.
 */
import type { PgBoss as PgBossClient } from 'pg-boss';
import { QueueClosedError, TaskTimeoutError } from '../../errors.js';
import { JobAttemptFailure, type ActiveJob, type WorkHandle, type WorkOptions } from '../backend.js';
import { encodeError } from '../payload.js';
import { publish, type JobData, type StoredOutput } from './pg-boss-rows.js';

/** A job this process runs: the attempt it holds, and what aborts its signal. */
export interface Running {
  retryCount: number;
  controller: AbortController;
}

/** What the loop needs of its backend. */
export interface WorkContext {
  readonly name: string;
  readonly pollInterval: number;
  closed(): boolean;
  sql<T>(text: string, values: unknown[]): Promise<T[]>;
  /** Watch a running job: the backend's poller aborts it when it is cancelled or its lease is lost. */
  track(id: string, running: Running): void;
  untrack(id: string, running: Running): void;
  /** Put jobs back in line at once (state `retry`, due now). */
  release(jobs: Array<{ id: string; retryCount: number }>): Promise<void>;
  running(id: string): Running | undefined;
}

interface Outcome {
  /** `terminal`: failed for good, whatever retries are left (JobAttemptFailure's retry: false, or the last one). */
  status: 'completed' | 'failed' | 'terminal';
  output: StoredOutput;
}

interface FetchedJob {
  id: string;
  data: JobData;
  retryCount: number;
}

/** Start the loop; `halt` (also called by the backend's close()) stops it taking jobs. */
export function startWorkLoop(
  context: WorkContext,
  boss: PgBossClient,
  options: WorkOptions,
  handler: (job: ActiveJob) => Promise<string>,
): WorkHandle & { halt(): void } {
  const { concurrency } = options;
  const mine = new Set<string>();
  const settledOne = new Set<() => void>();
  const stopping = new AbortController();
  let stopped = false;
  let fetching = false;
  let timer: NodeJS.Timeout | undefined;

  const schedule = (delay: number): void => {
    clearTimeout(timer);
    timer = undefined;
    if (stopped || context.closed() || mine.size >= concurrency) return;
    timer = setTimeout(() => void pump(), delay);
    timer.unref();
  };

  const start = (job: FetchedJob): void => {
    mine.add(job.id);
    void runOne(context, boss, job, handler, stopping.signal)
      .then((outcome) => (outcome === undefined ? undefined : settleUntilStored(context, boss, job, outcome)))
      .catch((error: unknown) => publish(context.name, error, 'settle')) // not settled: its lease runs out, it is retried
      .finally(() => {
        mine.delete(job.id);
        for (const notify of settledOne) notify();
        schedule(0);
      });
  };

  const pump = async (): Promise<void> => {
    if (fetching || stopped || context.closed()) return;
    fetching = true;
    let empty = false;
    try {
      while (!stopped && !context.closed() && mine.size < concurrency) {
        const jobs = (await boss.fetch<JobData>(context.name, { batchSize: concurrency - mine.size })) as FetchedJob[];
        if (jobs.length === 0) {
          empty = true;
          break;
        }
        if (stopped || context.closed()) {
          // Taken as the worker stopped: straight back in line.
          await context.release(jobs.map(({ id, retryCount }) => ({ id, retryCount })));
          break;
        }
        for (const job of jobs) start(job);
      }
    } catch (error) {
      empty = true;
      publish(context.name, error, 'fetch'); // the server may be restarting: try again after the interval
    } finally {
      fetching = false;
    }
    if (empty) schedule(context.pollInterval);
  };

  const halt = (): void => {
    stopped = true;
    clearTimeout(timer);
    timer = undefined;
  };

  void pump();
  return {
    halt,
    async stop(drain: number): Promise<void> {
      halt();
      if (mine.size > 0) {
        await new Promise<void>((resolve) => {
          const finish = (): void => {
            clearTimeout(wait);
            settledOne.delete(check);
            resolve();
          };
          const check = (): void => {
            if (mine.size === 0) finish();
          };
          const wait = setTimeout(finish, drain);
          wait.unref();
          settledOne.add(check);
        });
      }
      if (mine.size === 0) return;
      // Drain over: give the rest up now, so that another worker takes them without waiting
      // for their lease to run out.
      const given = [...mine].flatMap((id) => {
        const running = context.running(id);
        return running === undefined ? [] : [{ id, retryCount: running.retryCount }];
      });
      stopping.abort(new QueueClosedError('the worker stopped before the job finished; another worker runs it again'));
      await context.release(given).catch((error: unknown) => publish(context.name, error, 'release'));
    },
  };
}

async function runOne(
  context: WorkContext,
  boss: PgBossClient,
  job: FetchedJob,
  handler: (job: ActiveJob) => Promise<string>,
  stopping: AbortSignal,
): Promise<Outcome | undefined> {
  const { id, data } = job;
  const controller = new AbortController();
  const running: Running = { retryCount: job.retryCount, controller };
  context.track(id, running);
  const signal = AbortSignal.any([controller.signal, stopping]);
  let timer: NodeJS.Timeout | undefined;
  // Kept in the settled job's output too, so that status() still shows how far it got.
  let lastProgress: { value: unknown } | undefined;
  const withProgress = (output: StoredOutput): StoredOutput =>
    lastProgress === undefined ? output : { ...output, progress: lastProgress.value };
  try {
    const active: ActiveJob = {
      id,
      fn: data.fn,
      args: data.args,
      attempt: job.retryCount + 1,
      timeout: data.timeout,
      signal,
      progress: async (value: unknown) => {
        lastProgress = { value: value ?? null };
        await progress(context, id, job.retryCount, value);
      },
    };
    const ended = new Promise<never>((_, reject) => {
      timer = setTimeout(() => controller.abort(new TaskTimeoutError(data.timeout)), data.timeout);
      timer.unref();
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
    ended.catch(() => undefined);
    const result = await Promise.race([handler(active), ended]);
    return { status: 'completed', output: withProgress({ result }) };
  } catch (error) {
    if (stopping.aborted) return undefined; // released by stop(): not this attempt's failure
    const reason: unknown = controller.signal.aborted ? controller.signal.reason : undefined;
    if (reason !== undefined && !(reason instanceof TaskTimeoutError)) {
      return undefined; // cancelled (JobCancelledError), or no longer ours: the job is settled elsewhere
    }
    const last = job.retryCount >= (data.retries ?? 0);
    if (error instanceof JobAttemptFailure) {
      return { status: error.retry && !last ? 'failed' : 'terminal', output: withProgress({ error: error.output }) };
    }
    return { status: last ? 'terminal' : 'failed', output: withProgress({ error: encodeError(error) }) };
  } finally {
    clearTimeout(timer);
    context.untrack(id, running);
  }
}

/** The longest wait between two tries to store an outcome while the server is away. */
const MAX_SETTLE_RETRY_MS = 1000;

/**
 * Store the outcome, trying again while the server is unreachable (restarting, failing over)
 * until it is stored or the backend closes. Given up at once, the job would run again once its
 * lease ran out, though its result was ready: a second run of work already done. Trying late
 * is safe: both statements are fenced to this attempt, so once the job was taken again (or
 * cancelled) they change nothing.
 */
async function settleUntilStored(context: WorkContext, boss: PgBossClient, job: FetchedJob, outcome: Outcome): Promise<void> {
  for (let wait = context.pollInterval; ; wait = Math.min(MAX_SETTLE_RETRY_MS, wait * 2)) {
    try {
      await settle(context, boss, job, outcome);
      return;
    } catch (error) {
      if (context.closed()) throw error;
      publish(context.name, error, 'settle');
    }
    await new Promise<void>((resolve) => setTimeout(resolve, Math.max(1, wait)).unref());
    if (context.closed()) return;
  }
}

async function settle(context: WorkContext, boss: PgBossClient, job: FetchedJob, outcome: Outcome): Promise<void> {
  const attempt = { id: job.id, retryCount: job.retryCount };
  if (outcome.status === 'completed') {
    await boss.complete(context.name, attempt, outcome.output as object);
    return;
  }
  if (outcome.status === 'terminal') {
    // pg-boss retries while retry_count < retry_limit: close the gap, so that this fail is the last.
    await context.sql(
      `UPDATE $table SET retry_limit = retry_count WHERE name = $1 AND id = $2::uuid AND state = 'active' AND retry_count = $3`,
      [context.name, job.id, job.retryCount],
    );
  }
  await boss.fail(context.name, attempt, outcome.output as object);
}

async function progress(context: WorkContext, id: string, retryCount: number, value: unknown): Promise<void> {
  // Kept in `output` while the job runs; completion or failure replaces it.
  await context.sql(
    `UPDATE $table SET output = jsonb_build_object('progress', $3::jsonb)
      WHERE name = $1 AND id = $2::uuid AND state = 'active' AND retry_count = $4`,
    [context.name, id, JSON.stringify(value ?? null), retryCount],
  );
}
