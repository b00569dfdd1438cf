/**
 * The job queue on PostgreSQL, through pg-boss 12 (an optional peer, imported on connect).
 *
 * How our contract maps onto pg-boss:
 * - One pg-boss queue per loopguard queue, policy `exclusive`: its unique index (name, key)
 *   over queued and active jobs is what `key` deduplication needs. That policy lets only one
 *   key-less job exist at a time, so every job carries a key: `key:<key>` when the caller gave
 *   one, else `id:<its own id>` (we choose the ids, so that key is unique). pg-boss answers a
 *   refused duplicate with null; the first job's id is then looked up by its key.
 * - `timeout` is pg-boss's `expireInSeconds` (whole seconds, one more than the timeout so our
 *   own exact timer fires first); it is also the lease. A job whose worker died stays `active`
 *   until pg-boss's supervision finds it expired: supervision runs every
 *   `superviseIntervalSeconds` and expires a queue at most every `monitorIntervalSeconds`
 *   (both 60 s by default), so both are set to half the queue's default timeout (1 to 60 s),
 *   and a dead worker's job is taken again within about twice its timeout.
 * - `retries` → `retryLimit` (a lost lease counts as an attempt, LEASE_RETRIES); `retryDelay` →
 *   `retryDelay` in whole seconds with `retryBackoff` (pg-boss doubles it, with jitter);
 *   `priority` → `priority`; `delay` → `startAfter` in seconds (the server's clock, not ours).
 * - Workers: pg-boss-work.ts. Outputs stored are ours: `{ result }`, `{ error }`, `{ progress }`.
 * - pg-boss has no completion event: `settled()`, a running job's cancellation and a lost lease
 *   are found by one poller per backend, one query per `pollInterval` for every id watched, on
 *   an unref'd timer.
 */
import { randomUUID } from 'node:crypto';
import type { PgBoss as PgBossClient } from 'pg-boss';
import { JobCancelledError, JobNotFoundError, QueueClosedError, QueuePeerMissingError } from '../../errors.js';
import { LEASE_LOSSES } from '../backend.js';
import type {
  ActiveJob,
  BackendOptions,
  JobCounts,
  JobInput,
  JobSnapshot,
  OpenBackend,
  QueueBackend,
  SendOptions,
  WorkHandle,
  WorkOptions,
} from '../backend.js';
import {
  isSettled,
  expireSeconds,
  JOB_COLUMNS,
  publish,
  quoteIdent,
  SCHEMA,
  snapshotOf,
  stateOf,
  UUID,
  type JobData,
  type JobRow,
} from './pg-boss-rows.js';
import { startWorkLoop, type Running, type WorkContext } from './pg-boss-work.js';

/**
 * Attempts beyond `retries` that pg-boss may start, for a job whose worker died (LEASE_LOSSES,
 * backend.ts). pg-boss's supervision retries an expired job while `retry_count < retryLimit`,
 * and a handler's failure is final once `retry_count >= retries` (pg-boss-work.ts), so these
 * attempts go only to dead workers. pg-boss keeps one count for both: a job that lost its
 * lease and then throws has one retry fewer for its throws than on BullMQ, which counts them apart.
 */
const LEASE_RETRIES = LEASE_LOSSES;

interface Watcher {
  resolve(job: JobSnapshot): void;
  reject(error: unknown): void;
}

export const openPgBoss: OpenBackend = (url, name, options) => Promise.resolve(new PgBossBackend(url, name, options));

function nodeSupported(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}

/** open.ts's preloadBackend(): the client library, loaded ahead of the first use. */
export function preload(url: string): Promise<unknown> {
  return loadPgBoss(url);
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
  /** Each work() loop's stop-taking-jobs switch, for close(). */
  readonly #halts = new Set<() => void>();
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
      // Workers poll (pollInterval) rather than LISTEN: one connection fewer per process.
      useListenNotify: false,
    });
    // An 'error' without a listener would crash the app; pg-boss reports here what it retries.
    boss.on('error', (error: unknown) => publish(this.name, error, 'client'));
    try {
      await boss.start();
      await boss.createQueue(this.name, { policy: 'exclusive' });
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
    const data: JobData = { fn: job.fn, args: job.args, timeout: options.timeout, retries: options.retries };
    const sent = await boss.send(this.name, data, {
      id,
      singletonKey,
      priority: options.priority,
      retryLimit: options.retries + LEASE_RETRIES,
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
    const rows = await this.#sql<JobRow>(boss, `SELECT ${JOB_COLUMNS} FROM $table WHERE name = $1 AND id = $2::uuid`, [this.name, id]);
    return rows[0] === undefined ? undefined : snapshotOf(rows[0]);
  }

  async cancel(id: string): Promise<boolean> {
    if (!UUID.test(id)) return false;
    const boss = await this.#client();
    const response = (await boss.cancel(this.name, id)) as { affected?: number };
    // A job running in this process stops at once rather than at the next poll.
    this.#running.get(id)?.controller.abort(new JobCancelledError(id));
    return (response.affected ?? 0) > 0;
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
      const forget = (): void => {
        signal.removeEventListener('abort', onAbort);
        const set = this.#watchers.get(id);
        set?.delete(watcher);
        if (set?.size === 0) this.#watchers.delete(id);
      };
      const onAbort = (): void => {
        forget();
        reject(signal.reason);
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
      // Only the ids asked about: a watcher added while the query runs waits for the next one.
      const ids = [...new Set([...this.#watchers.keys(), ...this.#running.keys()])];
      const known = ids.filter((id) => UUID.test(id));
      const rows =
        known.length === 0
          ? []
          : await this.#sql<JobRow>(boss, `SELECT ${JOB_COLUMNS} FROM $table WHERE name = $1 AND id = ANY($2::uuid[])`, [this.name, known]);
      const byId = new Map(rows.map((row) => [row.id, row]));
      for (const id of ids) {
        const row = byId.get(id);
        const watchers = this.#watchers.get(id);
        if (watchers !== undefined && (row === undefined || isSettled(row.state))) {
          const job = row === undefined ? undefined : snapshotOf(row);
          for (const watcher of [...watchers]) {
            if (job === undefined) watcher.reject(new JobNotFoundError(id));
            else watcher.resolve(job);
          }
        }
        const running = this.#running.get(id);
        if (running === undefined) continue;
        if (row?.state === 'cancelled') {
          running.controller.abort(new JobCancelledError(id));
        } else if (row === undefined || row.state !== 'active' || row.retry_count !== running.retryCount) {
          running.controller.abort(new Error(`job ${id} is no longer this worker's: its lease ran out and it was taken again or settled`));
        }
      }
    } catch (error) {
      if (this.#closed) return;
      publish(this.name, error, 'poll'); // the server may be restarting: the next poll tries again
    } finally {
      this.#polling = false;
    }
    this.#schedulePoll(this.#options.pollInterval);
  }

  async work(options: WorkOptions, handler: (job: ActiveJob) => Promise<string>): Promise<WorkHandle> {
    const boss = await this.#client();
    const context: WorkContext = {
      name: this.name,
      pollInterval: this.#options.pollInterval,
      closed: () => this.#closed,
      sql: (text, values) => this.#sql(boss, text, values),
      track: (id, running) => {
        this.#running.set(id, running);
        this.#schedulePoll(this.#options.pollInterval);
      },
      untrack: (id, running) => {
        if (this.#running.get(id) === running) this.#running.delete(id);
      },
      release: (jobs) => this.#release(boss, jobs),
      running: (id) => this.#running.get(id),
    };
    const loop = startWorkLoop(context, boss, options, handler);
    this.#halts.add(loop.halt);
    return {
      stop: async (drain: number) => {
        this.#halts.delete(loop.halt);
        await loop.stop(drain);
      },
    };
  }

  /**
   * Put jobs this worker gives up back in line at once (state `retry`, due now). Their
   * `retry_count` stays, so the next claim counts one attempt more, as a lost lease would.
   */
  async #release(boss: PgBossClient, jobs: Array<{ id: string; retryCount: number }>): Promise<void> {
    for (const { id, retryCount } of jobs) {
      await this.#sql(
        boss,
        `UPDATE $table SET state = 'retry', start_after = now()
          WHERE name = $1 AND id = $2::uuid AND state = 'active' AND retry_count = $3`,
        [this.name, id, retryCount],
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
    for (const halt of this.#halts) halt();
    this.#halts.clear();
    for (const watchers of [...this.#watchers.values()]) {
      for (const watcher of [...watchers]) watcher.reject(new QueueClosedError());
    }
    const connecting = this.#connecting;
    if (connecting !== undefined) await connecting.catch(() => undefined);
    const boss = this.#boss;
    this.#boss = undefined;
    if (boss === undefined) return;
    // Jobs still running here go back in line now, not when their lease runs out.
    const running = [...this.#running].map(([id, job]) => ({ id, retryCount: job.retryCount, controller: job.controller }));
    for (const { id, controller } of running) controller.abort(new QueueClosedError(`the queue closed while job ${id} ran`));
    if (running.length > 0) await this.#release(boss, running).catch((error: unknown) => publish(this.name, error, 'release'));
    await boss.stop({ graceful: false, close: true, timeout: 1000 });
  }
}
