/**
 * The job queue on PostgreSQL, through pg-boss 12 (an optional peer, imported on connect).
 *
 * How our contract maps onto pg-boss:
 * - One pg-boss queue per loopguard queue, policy `exclusive`: its unique index (name, key)
 *   over queued and active jobs is what `key` deduplication needs. That policy lets only one
 *   key-less job exist at a time, so every job carries a key: `key:<key>` when the caller gave
 *   one, else `id:<its own id>` (we choose the ids, so that key is unique).
 * - `timeout` is pg-boss's `expireInSeconds` (whole seconds, one more than the timeout so our
 *   own exact timer fires first); it is also the lease. A job whose worker died stays `active`
 *   until pg-boss's supervision finds it expired: supervision runs every
 *   `superviseIntervalSeconds` and expires a queue at most every `monitorIntervalSeconds`
 *   (both 60 s by default), so both are set to about half the queue's default timeout (1 to
 *   60 s), and a dead worker's job is taken again within about twice its timeout.
 * - `retries` → `retryLimit`; `retryDelay` → `retryDelay` in whole seconds with
 *   `retryBackoff` (pg-boss doubles it, with jitter); `priority` → `priority`; `delay` →
 *   `startAfter` as seconds (the server's clock, not ours).
 * - Workers take one job per fetch (`batchSize: 1`) in `localConcurrency` loops, and settle it
 *   themselves with `perJobResults`, so the stored output is ours (`{ result }`, `{ error }`)
 *   and a failure that must not be retried is dead-lettered (failed at once: the queue has no
 *   dead-letter queue). LISTEN/NOTIFY wakes them when a job is sent.
 * - pg-boss has no completion event: `settled()`, a running job's cancellation and its lost
 *   lease are found by one poller per backend, one query per `pollInterval` for every id
 *   watched, on an unref'd timer.
 */
import { randomUUID } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import type { Job, PgBoss as PgBossClient } from 'pg-boss';
import { JobCancelledError, JobNotFoundError, QueueClosedError, QueuePeerMissingError, TaskTimeoutError } from '../../errors.js';
import {
  JobAttemptFailure,
  type ActiveJob,
  type BackendOptions,
  type JobCounts,
  type JobInput,
  type JobSnapshot,
  type JobState,
  type OpenBackend,
  type QueueBackend,
  type SendOptions,
  type WorkHandle,
  type WorkOptions,
} from '../backend.js';
import { encodeError } from '../payload.js';

/** Where backends publish what they cannot throw to anyone (a lost connection, a failed poll). */
export const queueErrors = channel('loopguard:queue:error');

const SCHEMA = 'pgboss';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_EXPIRE_SECONDS = 24 * 60 * 60;

interface JobData {
  fn: string;
  args: string;
  timeout: number;
}

interface StoredOutput {
  result?: string;
  error?: string;
  progress?: unknown;
  message?: string;
}

interface JobRow {
  id: string;
  name: string;
  data: JobData | null;
  state: string;
  retry_count: number;
  created_on: Date;
  started_on: Date | null;
  completed_on: Date | null;
  output: StoredOutput | null;
}

interface Watcher {
  resolve(job: JobSnapshot): void;
  reject(error: unknown): void;
}

interface Running {
  retryCount: number;
  controller: AbortController;
}

export const openPgBoss: OpenBackend = (url, name, options) => Promise.resolve(new PgBossBackend(url, name, options));

function nodeSupported(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}

async function loadPgBoss(url: string): Promise<typeof import('pg-boss')> {
  const scheme = url.split(':')[0];
  if (!nodeSupported()) {
    throw new QueuePeerMissingError(
      'pg-boss',
      `a ${scheme}: queue runs on pg-boss 12, which needs Node >= 22.12; this is Node ${process.versions.node}`,
    );
  }
  try {
    return await import('pg-boss');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new QueuePeerMissingError(
        'pg-boss',
        `a ${scheme}: queue needs the optional peer dependency pg-boss, which is not installed; run \`npm install pg-boss\``,
        { cause: error },
      );
    }
    throw error;
  }
}

class PgBossBackend implements QueueBackend {
  readonly kind = 'pg-boss' as const;
  readonly name: string;
  readonly #url: string;
  readonly #options: BackendOptions;
  #boss: PgBossClient | undefined;
  #connecting: Promise<void> | undefined;
  #table = 'job';
  #exclusive = true;
  #closed = false;
  readonly #watchers = new Map<string, Set<Watcher>>();
  readonly #running = new Map<string, Running>();
  readonly #workIds = new Set<string>();
  #pollTimer: NodeJS.Timeout | undefined;
  #polling = false;

  constructor(url: string, name: string, options: BackendOptions) {
    this.#url = url;
    this.name = name;
    this.#options = options;
  }

  connect(): Promise<void> {
    if (this.#closed) return Promise.reject(new QueueClosedError());
    this.#connecting ??= this.#start().catch((error: unknown) => {
      this.#connecting = undefined; // the next call tries again (the server may be back)
      throw error;
    });
    return this.#connecting;
  }

  async #start(): Promise<void> {
    const { PgBoss } = await loadPgBoss(this.#url);
    const intervalSeconds = Math.min(60, Math.max(1, Math.floor(this.#options.timeout / 2000)));
    const boss = new PgBoss({
      connectionString: this.#url,
      schema: SCHEMA,
      application_name: `loopguard:${this.name}`,
      superviseIntervalSeconds: intervalSeconds,
      monitorIntervalSeconds: intervalSeconds,
      schedule: false,
      useListenNotify: true,
    });
    // An 'error' without a listener would crash the app; pg-boss reports here what it retries.
    boss.on('error', (error: unknown) => publish(this.name, error));
    try {
      await boss.start();
      await boss.createQueue(this.name, { policy: 'exclusive', notify: true });
      const queue = await boss.getQueue(this.name);
      if (queue !== null) {
        this.#table = queue.table;
        this.#exclusive = queue.policy === 'exclusive';
      }
    } catch (error) {
      await boss.stop({ graceful: false, close: true }).catch(() => undefined);
      throw error;
    }
    if (this.#closed) {
      await boss.stop({ graceful: false, close: true });
      throw new QueueClosedError();
    }
    this.#boss = boss;
  }

  async #client(): Promise<PgBossClient> {
    await this.connect();
    if (this.#boss === undefined) throw new QueueClosedError();
    return this.#boss;
  }

  #sql<T>(boss: PgBossClient, text: string, values: unknown[]): Promise<T[]> {
    return boss
      .getDb()
      .executeSql(text.replaceAll('$table', `${SCHEMA}.${quoteIdent(this.#table)}`), values)
      .then((result) => result.rows as T[]);
  }

  async send(job: JobInput, options: SendOptions): Promise<string> {
    const boss = await this.#client();
    const id = randomUUID();
    const singletonKey = options.key === undefined ? `id:${id}` : `key:${options.key}`;
    if (options.key !== undefined && !this.#exclusive) {
      // A queue made by someone else with another policy: best effort, look before sending.
      const existing = await this.#byKey(boss, singletonKey);
      if (existing !== undefined) return existing;
    }
    const data: JobData = { fn: job.fn, args: job.args, timeout: options.timeout };
    const sent = await boss.send(this.name, data, {
      id,
      singletonKey,
      priority: options.priority,
      retryLimit: options.retries,
      ...(options.retryDelay > 0
        ? { retryDelay: Math.max(1, Math.round(options.retryDelay / 1000)), retryBackoff: true }
        : { retryDelay: 0 }),
      expireInSeconds: expireSeconds(options.timeout),
      ...(options.delay > 0 ? { startAfter: options.delay / 1000 } : {}),
    });
    if (sent !== null) return sent;
    // pg-boss answers null when the key's unique index refused the job: the first one's id.
    const existing = await this.#byKey(boss, singletonKey);
    if (existing !== undefined) return existing;
    return this.send(job, options); // it settled in between: nothing left to deduplicate against
  }

  async #byKey(boss: PgBossClient, singletonKey: string): Promise<string | undefined> {
    const rows = await this.#sql<{ id: string }>(
      boss,
      `SELECT id FROM $table WHERE name = $1 AND singleton_key = $2 AND state <= 'active' ORDER BY created_on DESC LIMIT 1`,
      [this.name, singletonKey],
    );
    return rows[0]?.id;
  }

  async get(id: string): Promise<JobSnapshot | undefined> {
    if (!UUID.test(id)) return undefined;
    const boss = await this.#client();
    const rows = await this.#sql<JobRow>(
      boss,
      `SELECT id, name, data, state, retry_count, created_on, started_on, completed_on, output
         FROM $table WHERE name = $1 AND id = $2::uuid`,
      [this.name, id],
    );
    return rows[0] === undefined ? undefined : snapshotOf(rows[0]);
  }

  async cancel(id: string): Promise<boolean> {
    if (!UUID.test(id)) return false;
    const boss = await this.#client();
    const response = await boss.cancel(this.name, id);
    // A job running here stops at once rather than at the next poll.
    this.#running.get(id)?.controller.abort(new JobCancelledError(id));
    return (response as { affected?: number }).affected !== undefined && (response as { affected: number }).affected > 0;
  }

  settled(id: string, signal: AbortSignal): Promise<JobSnapshot> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.#closed) return Promise.reject(new QueueClosedError());
    return new Promise<JobSnapshot>((resolve, reject) => {
      let watchers = this.#watchers.get(id);
      if (watchers === undefined) {
        watchers = new Set();
        this.#watchers.set(id, watchers);
      }
      const onAbort = (): void => {
        forget();
        reject(signal.reason);
      };
      const forget = (): void => {
        signal.removeEventListener('abort', onAbort);
        const set = this.#watchers.get(id);
        set?.delete(watcher);
        if (set?.size === 0) this.#watchers.delete(id);
      };
      const watcher: Watcher = {
        resolve: (job) => {
          forget();
          resolve(job);
        },
        reject: (error) => {
          forget();
          reject(error);
        },
      };
      watchers.add(watcher);
      signal.addEventListener('abort', onAbort, { once: true });
      // The first look at once: a job that settled already should not wait for a poll.
      this.#schedulePoll(0);
    });
  }

  #schedulePoll(delay: number): void {
    if (this.#closed || this.#polling) return;
    if (this.#watchers.size === 0 && this.#running.size === 0) return;
    if (this.#pollTimer !== undefined) {
      if (delay > 0) return;
      clearTimeout(this.#pollTimer);
    }
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = undefined;
      void this.#poll();
    }, delay);
    this.#pollTimer.unref();
  }

  async #poll(): Promise<void> {
    this.#polling = true;
    try {
      const boss = await this.#client();
      const ids = [...new Set([...this.#watchers.keys(), ...this.#running.keys()])].filter((id) => UUID.test(id));
      const rows =
        ids.length === 0
          ? []
          : await this.#sql<JobRow>(
              boss,
              `SELECT id, name, data, state, retry_count, created_on, started_on, completed_on, output
                 FROM $table WHERE name = $1 AND id = ANY($2::uuid[])`,
              [this.name, ids],
            );
      const byId = new Map(rows.map((row) => [row.id, row]));
      for (const [id, watchers] of [...this.#watchers]) {
        const row = byId.get(id);
        if (row === undefined) {
          for (const watcher of [...watchers]) watcher.reject(new JobNotFoundError(id));
        } else if (isSettled(row.state)) {
          const job = snapshotOf(row);
          for (const watcher of [...watchers]) watcher.resolve(job);
        }
      }
      for (const [id, running] of this.#running) {
        const row = byId.get(id);
        if (row?.state === 'cancelled') {
          running.controller.abort(new JobCancelledError(id));
        } else if (row === undefined || row.state !== 'active' || row.retry_count !== running.retryCount) {
          running.controller.abort(new Error(`job ${id} is no longer this worker's: its lease ran out and it was taken again or settled`));
        }
      }
    } catch (error) {
      if (this.#closed) return;
      publish(this.name, error); // the server may be restarting: the next poll tries again
    } finally {
      this.#polling = false;
    }
    this.#schedulePoll(this.#options.pollInterval);
  }

  async work(options: WorkOptions, handler: (job: ActiveJob) => Promise<string>): Promise<WorkHandle> {
    const boss = await this.#client();
    const stopping = new AbortController();
    const mine = new Set<string>();
    const settledOne = new Set<() => void>();
    const workId = await boss.work<JobData>(
      this.name,
      {
        batchSize: 1,
        localConcurrency: options.concurrency,
        perJobResults: true,
        pollingIntervalSeconds: Math.max(0.5, this.#options.pollInterval / 1000),
        notifyPollingIntervalSeconds: 30,
      },
      async (jobs: Job<JobData>[]) => {
        const results = [];
        for (const job of jobs) {
          mine.add(job.id);
          try {
            results.push(await this.#runOne(boss, job, handler, stopping.signal));
          } finally {
            mine.delete(job.id);
            for (const notify of settledOne) notify();
          }
        }
        return results.filter((result) => result !== undefined);
      },
    );
    this.#workIds.add(workId);
    return {
      stop: async (drain: number): Promise<void> => {
        await boss.offWork(this.name, { id: workId, wait: false });
        this.#workIds.delete(workId);
        if (mine.size > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(finish, drain);
            timer.unref();
            function finish(): void {
              clearTimeout(timer);
              settledOne.delete(check);
              resolve();
            }
            const check = (): void => {
              if (mine.size === 0) finish();
            };
            settledOne.add(check);
          });
        }
        if (mine.size === 0) return;
        // Drain over: give the rest up now, so that another worker takes them without waiting
        // for their lease, and their attempts are not counted against the job's retries.
        const given = [...mine].map((id) => ({ id, running: this.#running.get(id) }));
        stopping.abort(new QueueClosedError('the worker stopped before the job finished; another worker runs it again'));
        await this.#release(boss, given).catch((error: unknown) => publish(this.name, error));
      },
    };
  }

  async #runOne(
    boss: PgBossClient,
    job: Job<JobData>,
    handler: (job: ActiveJob) => Promise<string>,
    stopping: AbortSignal,
  ): Promise<{ id: string; status: 'completed' | 'failed' | 'deadletter'; output: StoredOutput } | undefined> {
    const { id } = job;
    const data = job.data;
    const controller = new AbortController();
    const running: Running = { retryCount: job.retryCount, controller };
    this.#running.set(id, running);
    this.#schedulePoll(this.#options.pollInterval);
    const signal = AbortSignal.any([controller.signal, job.signal, stopping]);
    let timer: NodeJS.Timeout | undefined;
    try {
      const active: ActiveJob = {
        id,
        fn: data.fn,
        args: data.args,
        attempt: job.retryCount + 1,
        timeout: data.timeout,
        signal,
        progress: (value: unknown) => this.#progress(boss, id, job.retryCount, value),
      };
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const error = new TaskTimeoutError(data.timeout);
          controller.abort(error);
          reject(error);
        }, data.timeout);
        timer.unref();
      });
      const aborted = new Promise<never>((_, reject) => {
        if (signal.aborted) reject(signal.reason);
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
      timedOut.catch(() => undefined);
      aborted.catch(() => undefined);
      const result = await Promise.race([handler(active), timedOut, aborted]);
      return { id, status: 'completed', output: { result } };
    } catch (error) {
      if (stopping.aborted) return undefined; // released by stop(): not this attempt's failure
      if (error instanceof JobCancelledError) return undefined; // cancelled: pg-boss has settled it
      if (error instanceof JobAttemptFailure) {
        return { id, status: error.retry ? 'failed' : 'deadletter', output: { error: error.output } };
      }
      return { id, status: 'failed', output: { error: encodeError(error) } };
    } finally {
      clearTimeout(timer);
      if (this.#running.get(id) === running) this.#running.delete(id);
    }
  }

  async #progress(boss: PgBossClient, id: string, retryCount: number, value: unknown): Promise<void> {
    const json = JSON.stringify(value ?? null);
    await this.#sql(
      boss,
      `UPDATE $table SET output = jsonb_build_object('progress', $3::jsonb)
        WHERE name = $1 AND id = $2::uuid AND state = 'active' AND retry_count = $4`,
      [this.name, id, json, retryCount],
    );
  }

  /**
   * Put jobs this worker gives up back in line at once (state `retry`, due now). Their
   * `retry_count` stays, so the next claim counts one attempt more, as a lost lease would.
   */
  async #release(boss: PgBossClient, jobs: Array<{ id: string; running: Running | undefined }>): Promise<void> {
    for (const { id, running } of jobs) {
      if (running === undefined) continue;
      await this.#sql(
        boss,
        `UPDATE $table SET state = 'retry', start_after = now()
          WHERE name = $1 AND id = $2::uuid AND state = 'active' AND retry_count = $3`,
        [this.name, id, running.retryCount],
      );
    }
  }

  async counts(): Promise<JobCounts> {
    const boss = await this.#client();
    const rows = await this.#sql<{ state: string; count: string }>(
      boss,
      `SELECT state, count(*) AS count FROM $table WHERE name = $1 GROUP BY state`,
      [this.name],
    );
    const counts: JobCounts = { queued: 0, active: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const row of rows) counts[stateOf(row.state)] += Number(row.count);
    return counts;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
    for (const [, watchers] of [...this.#watchers]) {
      for (const watcher of [...watchers]) watcher.reject(new QueueClosedError());
    }
    const connecting = this.#connecting;
    if (connecting !== undefined) await connecting.catch(() => undefined);
    const boss = this.#boss;
    this.#boss = undefined;
    if (boss === undefined) return;
    const running = [...this.#running].map(([id, job]) => ({ id, running: job }));
    for (const { id, running: job } of running) job.controller.abort(new QueueClosedError(`the queue closed while job ${id} ran`));
    if (running.length > 0) await this.#release(boss, running).catch((error: unknown) => publish(this.name, error));
    for (const workId of this.#workIds) await boss.offWork(this.name, { id: workId, wait: false }).catch(() => undefined);
    await boss.stop({ graceful: false, close: true, timeout: 1000 });
  }
}

function expireSeconds(timeout: number): number {
  return Math.min(MAX_EXPIRE_SECONDS, Math.ceil(timeout / 1000) + 1);
}

function isSettled(state: string): boolean {
  return state === 'completed' || state === 'failed' || state === 'cancelled';
}

function stateOf(state: string): JobState {
  if (state === 'created' || state === 'retry') return 'queued';
  return state as JobState;
}

function snapshotOf(row: JobRow): JobSnapshot {
  const state = stateOf(row.state);
  const output = row.output ?? undefined;
  const snapshot: JobSnapshot = {
    id: row.id,
    fn: row.data?.fn ?? '',
    state,
    attempts: row.started_on === null ? 0 : row.retry_count + 1,
    createdAt: row.created_on,
  };
  if (state === 'completed' && typeof output?.result === 'string') snapshot.output = output.result;
  if (state === 'failed') {
    snapshot.output =
      typeof output?.error === 'string'
        ? output.error
        : // Failed by pg-boss itself (its supervision expired the job after its last attempt).
          encodeError(new Error(typeof output?.message === 'string' ? output.message : `job ${row.id} failed`));
  }
  if (output?.progress !== undefined && state === 'active') snapshot.progress = output.progress;
  if (row.started_on !== null) snapshot.startedAt = row.started_on;
  if (row.completed_on !== null && isSettled(row.state)) snapshot.settledAt = row.completed_on;
  return snapshot;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function publish(queue: string, error: unknown): void {
  if (queueErrors.hasSubscribers) queueErrors.publish({ queue, backend: 'pg-boss', error });
}
