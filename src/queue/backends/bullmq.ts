/**
 * The job queue on Redis, through BullMQ 6 (an optional peer, imported only when a queue's URL is
 * redis:// or rediss://). How our SendOptions become BullMQ's:
 * - retries → `attempts: retries + 1` with `backoff: { type: 'exponential', delay: retryDelay }`
 *   (BullMQ waits delay × 2^(n-1) before retry n, the doubling SendOptions ask for);
 * - key → `deduplication: { id: key }`: BullMQ keeps the key while the job is queued or active
 *   and answers the first job's id; it drops the key when the job settles or is removed;
 * - priority → every job is prioritized at `PRIORITY_MIDDLE - priority`, since BullMQ runs lower
 *   numbers first and runs unprioritized (0) jobs before all prioritized ones;
 * - timeout → the per-job lease and the stalled check's interval (see bullmq-work.ts).
 * BullMQ has no cancelled state: a queued job that is cancelled is removed and a small record of
 * it kept (`lg:cancelled:<id>`, counted in the `lg:cancelled` sorted set). A job that a worker
 * holds (or takes meanwhile) gets, in one script that runs only while the job has not settled,
 * a marker in its hash (`lgCancel`), BullMQ's `defa` (a deferred failure: a worker that takes
 * the job from then on fails it at once without running it, as BullMQ does with a job stalled
 * too often) and its id in the `lg:cancel-requested` sorted set; then a pub/sub nudge to its
 * worker aborts the running attempt. A job that settles with the marker reads 'cancelled',
 * whether its attempt failed or its result came too late: the cancel wins, as on pg-boss, and
 * the worker need not look for the marker before and after every run. counts() takes those jobs
 * out of completed and failed. Settled jobs and these records are kept for RETENTION (7 days, as
 * pg-boss keeps its jobs), so that Redis does not grow without end (BullMQ keeps every job by
 * default). Outputs: a completed job's returnvalue is our encoded text (BullMQ keeps it as JSON,
 * in its own completion); a failed attempt's encoded error goes in the job hash's `lgOutput`
 * field, since BullMQ keeps only an error's message.
 */
import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { QueueClosedError, QueuePeerMissingError } from '../../errors.js';
import { LEASE_LOSSES } from '../backend.js';
import type {
  ActiveJob,
  BackendOptions,
  JobCounts,
  JobInput,
  JobSnapshot,
  JobState,
  OpenBackend,
  QueueBackend,
  SendOptions,
  WorkHandle,
  WorkOptions,
} from '../backend.js';
import { encodeError } from '../payload.js';
import { CANCEL_EVENT, JobWatch } from './bullmq-watch.js';
import { diagnosticsChannel } from './diagnostics.js';
import { completedOutput, SHUTDOWN_GRACE, startBullMQWorker, within, type StoredJobData, type WorkContext } from './bullmq-work.js';

/**
 * BackendOptions: `pollInterval` is the period of the safety look at pending settled() jobs
 * (the event stream comes first); `timeout`, the queue's default job timeout, sizes the stalled check.
 */
export interface BullMQBackendOptions extends Partial<BackendOptions> {
  /** BullMQ's key prefix. @default 'bull' */
  prefix?: string;
}

export function publishQueueError(queue: string, error: unknown): void {
  if (diagnosticsChannel.hasSubscribers) diagnosticsChannel.publish({ queue, backend: 'bullmq', error });
}

/** open.ts's preloadBackend(): the client libraries, loaded ahead of the first use. */
export function preload(url: string): Promise<unknown> {
  return loadClients(url);
}

async function loadClients(url: string): Promise<{ bullmq: typeof import('bullmq'); IORedis: typeof Redis }> {
  const scheme = url.split(':')[0];
  const load = async <T>(pkg: string, importer: () => Promise<T>): Promise<T> => {
    try {
      return await importer();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
        throw new QueuePeerMissingError(
          pkg,
          `a ${scheme}: queue needs the optional peer dependencies bullmq and ioredis, and ${pkg} is not installed; run \`npm install bullmq ioredis\``,
          { cause: error },
        );
      }
      throw error;
    }
  };
  const [bullmq, ioredis] = await Promise.all([load('bullmq', () => import('bullmq')), load('ioredis', () => import('ioredis'))]);
  return { bullmq, IORedis: ioredis.Redis };
}

const PRIORITY_MIDDLE = 1_048_576;
const PRIORITY_MAX = 2_097_151;

/** Our priority (higher first) as BullMQ's (1 first … 2 097 151 last). */
export function bullmqPriority(priority: number): number {
  return Math.min(Math.max(Math.round(PRIORITY_MIDDLE - priority), 1), PRIORITY_MAX);
}

const BULLMQ_STATES: Readonly<Record<string, JobState>> = {
  waiting: 'queued',
  wait: 'queued',
  delayed: 'queued',
  prioritized: 'queued',
  'waiting-children': 'queued',
  active: 'active',
  completed: 'completed',
  failed: 'failed',
};

const TERMINAL: ReadonlySet<JobState> = new Set(['completed', 'failed', 'cancelled']);

interface CancelledRecord {
  fn: string;
  attempts: number;
  createdAt: number;
  settledAt: number;
}

interface Connected {
  bullmq: typeof import('bullmq');
  IORedis: typeof Redis;
  queue: Queue;
  commands: Redis;
}

/** How long settled jobs (and cancel records) stay readable, in seconds. */
export const RETENTION = 7 * 24 * 60 * 60;

const OUTPUT_FIELD = 'lgOutput';
const CANCEL_FIELD = 'lgCancel';

/**
 * The cancel marker, only on a job that still exists (a cancel racing a removal leaves no stray
 * key) and has not settled (so that a marked settled job was cancelled before it settled), and
 * a CANCEL_EVENT in the job's event stream, ahead of its settling event (bullmq-watch.ts).
 * KEYS: the job's hash, lg:cancel-requested, the event stream. ARGV: the marker field, now,
 * defa's message, the job's id, the event's name.
 */
const MARK_CANCEL = `if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'finishedOn') == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], 'defa', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', 10000, '*', 'event', ARGV[5], 'jobId', ARGV[4])
return 1`;

/**
 * Of the jobs whose cancel was requested, those that settled completed or failed (they read
 * 'cancelled'), after dropping requests older than the retention. KEYS: lg:cancel-requested,
 * completed, failed. ARGV: the oldest score kept.
 */
const CANCELLED_SETTLED = `redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local completed, failed = 0, 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('ZSCORE', KEYS[2], id) then completed = completed + 1
  elseif redis.call('ZSCORE', KEYS[3], id) then failed = failed + 1 end
end
return {completed, failed}`;

/** The fields of a job's hash that a snapshot reads (not `data`: the arguments may be large). */
const SNAPSHOT_FIELDS = [
  'name',
  'opts',
  'ats',
  'timestamp',
  'processedOn',
  'finishedOn',
  'returnvalue',
  'failedReason',
  'progress',
  OUTPUT_FIELD,
  CANCEL_FIELD,
] as const;
type SnapshotFields = Array<string | null>;

export class BullMQBackend implements QueueBackend {
  readonly kind = 'bullmq' as const;
  readonly name: string;
  readonly #url: string;
  readonly #prefix: string;
  readonly #pollInterval: number;
  readonly #stalledInterval: number;
  #connecting: Promise<Connected> | undefined;
  /** Every BullMQ object and Redis client made, as soon as it is made: close() ends them all. */
  readonly #opened: Array<{ close(): Promise<unknown>; disconnect(): unknown }> = [];
  /** Rejects when close() starts: a call waiting for a connection must not wait for ever. */
  readonly #closing: Promise<never>;
  #rejectClosing!: (error: Error) => void;
  readonly #watch: JobWatch;
  readonly #workers = new Set<WorkHandle>();
  #closed = false;

  constructor(url: string, name: string, options: BullMQBackendOptions = {}) {
    this.#url = url;
    this.name = name;
    this.#prefix = options.prefix ?? 'bull';
    this.#pollInterval = options.pollInterval ?? 1000;
    this.#stalledInterval = Math.min(Math.max((options.timeout ?? 60_000) / 2, 100), 1000);
    this.#closing = new Promise<never>((_, reject) => (this.#rejectClosing = reject));
    this.#closing.catch(() => {});
    this.#watch = new JobWatch({
      url,
      pollInterval: this.#pollInterval,
      ready: () => this.#ready(),
      getSettled: (id) => this.#getSettled(id),
      key: (suffix) => this.#key(suffix),
      closing: this.#closing,
      closed: () => this.#closed,
      track: (target) => this.#opened.push(target),
      publishError: (error) => publishQueueError(this.name, error),
    });
  }

  #key(suffix: string): string {
    return `${this.#prefix}:${this.name}:${suffix}`;
  }

  get #cancelledKey() {
    return this.#key('lg:cancelled');
  }

  #cancelRecordKey(id: string) {
    return this.#key(`lg:cancelled:${id}`);
  }

  get #cancelRequestedKey() {
    return this.#key('lg:cancel-requested');
  }

  #ready(): Promise<Connected> {
    if (this.#closed) return Promise.reject(new QueueClosedError());
    this.#connecting ??= (async () => {
      const { bullmq, IORedis } = await loadClients(this.#url);
      if (this.#closed) throw new QueueClosedError();
      const queue = new bullmq.Queue(this.name, { connection: { url: this.#url }, prefix: this.#prefix });
      this.#opened.push(queue);
      // An 'error' event without a listener would crash the app; ioredis reconnects by itself.
      queue.on('error', (error) => publishQueueError(this.name, error));
      const commands = new IORedis(this.#url, { lazyConnect: true });
      this.#opened.push({ close: async () => commands.disconnect(), disconnect: () => commands.disconnect() });
      commands.on('error', (error) => publishQueueError(this.name, error));
      // The client's first error is the server's answer (ECONNREFUSED, NOAUTH…); the promises
      // below would only say "Connection is closed".
      const refused = new Promise<never>((_, reject) => commands.once('error', reject));
      refused.catch(() => {});
      try {
        await Promise.race([Promise.all([commands.connect(), queue.waitUntilReady()]), refused]);
      } catch (error) {
        commands.disconnect();
        await queue.close().catch(() => {});
        throw error;
      }
      return { bullmq, IORedis, queue, commands };
    })();
    const connecting = this.#connecting;
    // A failed connect may be tried again.
    connecting.catch(() => {
      if (this.#connecting === connecting) this.#connecting = undefined;
    });
    return Promise.race([connecting, this.#closing]);
  }

  async connect(): Promise<void> {
    await this.#ready();
  }

  async send(input: JobInput, options: SendOptions): Promise<string> {
    const { queue } = await this.#ready();
    // Sent while the event stream is read: settled() need not look at the job before its
    // events. Not a keyed send: its id may be an older job's, whose events came before.
    const watched = this.#watch.reading && options.key === undefined;
    const data: StoredJobData = { fn: input.fn, args: input.args, timeout: options.timeout };
    const job = await queue.add(input.fn, data, {
      attempts: options.retries + 1,
      ...(options.retries > 0 ? { backoff: { type: 'exponential', delay: options.retryDelay } } : {}),
      priority: bullmqPriority(options.priority),
      ...(options.delay > 0 ? { delay: options.delay } : {}),
      ...(options.key !== undefined ? { deduplication: { id: options.key } } : {}),
      stackTraceLimit: 1,
      removeOnComplete: { age: RETENTION },
      removeOnFail: { age: RETENTION },
    });
    if (watched) this.#watch.sent(job.id as string);
    return job.id as string;
  }

  async get(id: string): Promise<JobSnapshot | undefined> {
    const { queue, commands } = await this.#ready();
    const read = () => commands.hmget(this.#key(id), ...SNAPSHOT_FIELDS) as Promise<SnapshotFields>;
    // State and hash in one round trip. A settled job says so in its hash (finishedOn), which
    // the state cannot contradict: a settled state never changes, so when the hash was read just
    // before the job settled (no finishedOn yet) it is read again, after the state.
    const [bullState, first] = await Promise.all([queue.getJobState(id), read()]);
    const settledState = bullState === 'completed' || bullState === 'failed';
    const fields = settledState && first[0] !== null && first[5] === null ? await read() : first;
    return this.#snapshot(commands, id, fields, BULLMQ_STATES[bullState] ?? 'queued');
  }

  /**
   * The job as get() reads it, in one command when it has settled (its hash says how): what
   * settled() resolves with once an event says the job may have settled.
   */
  async #getSettled(id: string): Promise<JobSnapshot | undefined> {
    const { commands } = await this.#ready();
    const fields = (await commands.hmget(this.#key(id), ...SNAPSHOT_FIELDS)) as SnapshotFields;
    if (fields[0] !== null && fields[5] === null) return this.get(id);
    return this.#snapshot(commands, id, fields, 'queued');
  }

  /** A snapshot from the hash's SNAPSHOT_FIELDS; `state` is BullMQ's, used until the job settled. */
  async #snapshot(commands: Redis, id: string, fields: SnapshotFields, state: JobState): Promise<JobSnapshot | undefined> {
    const [name, opts, ats, timestamp, processedOn, finishedOn, returnvalue, failedReason, progress, output, cancel] = fields;
    if (name === null || name === undefined) return this.#cancelledRecord(commands, id);
    // BullMQ writes finishedOn only in the final completion or failure, with the returnvalue
    // (a completed job) or the failedReason (a failed one; an earlier attempt's failedReason
    // stays on a job that completed on a retry).
    if (finishedOn !== null && finishedOn !== undefined) state = returnvalue !== null && returnvalue !== undefined ? 'completed' : 'failed';
    // Cancelled before it settled (the marker is set only then): the cancel wins over the outcome.
    if (TERMINAL.has(state) && cancel !== null && cancel !== undefined) state = 'cancelled';
    const attempts = (JSON.parse(opts ?? '{}') as { attempts?: number }).attempts ?? 1;
    const snapshot: JobSnapshot = {
      id,
      fn: name,
      state,
      attempts: Math.min(Number(ats ?? 0), attempts + LEASE_LOSSES),
      createdAt: new Date(Number(timestamp)),
    };
    if (state === 'completed') {
      const output = completedOutput(JSON.parse(returnvalue!));
      if (output !== undefined) snapshot.output = output;
    }
    if (state === 'failed') {
      // A failure that is not a handler's (its last attempt's worker died): BullMQ's reason.
      snapshot.output = output ?? encodeError(new Error(failedReason || `job ${id} failed`));
    }
    if (progress !== null && progress !== undefined) snapshot.progress = JSON.parse(progress);
    if (processedOn) snapshot.startedAt = new Date(Number(processedOn));
    if (TERMINAL.has(state) && finishedOn) snapshot.settledAt = new Date(Number(finishedOn));
    return snapshot;
  }

  async #cancelledRecord(commands: Redis, id: string): Promise<JobSnapshot | undefined> {
    const text = await commands.get(this.#cancelRecordKey(id));
    if (text === null) return undefined;
    const record = JSON.parse(text) as CancelledRecord;
    return {
      id,
      fn: record.fn,
      state: 'cancelled',
      attempts: record.attempts,
      createdAt: new Date(record.createdAt),
      settledAt: new Date(record.settledAt),
    };
  }

  async cancel(id: string): Promise<boolean> {
    const { queue, commands } = await this.#ready();
    const job = (await queue.getJob(id)) as Job | undefined;
    if (!job) return false;
    const state = await job.getState();
    if (state === 'completed' || state === 'failed' || state === 'unknown') return false;
    // The marker first: a worker that takes the job from here on fails it without running it.
    const marked = await commands.eval(
      MARK_CANCEL,
      3,
      this.#key(id),
      this.#cancelRequestedKey,
      this.#key('events'),
      CANCEL_FIELD,
      String(Date.now()),
      `job ${id} was cancelled`,
      id,
      CANCEL_EVENT,
    );
    if (marked === 0) return false;
    if (state !== 'active') {
      const record: CancelledRecord = {
        fn: job.name,
        attempts: Math.min(job.attemptsStarted, (job.opts.attempts ?? 1) + LEASE_LOSSES),
        createdAt: job.timestamp,
        settledAt: Date.now(),
      };
      // The record before the removal, so that nobody reads "no such job" in between.
      await commands
        .multi()
        .set(this.#cancelRecordKey(id), JSON.stringify(record), 'EX', RETENTION)
        .zadd(this.#cancelledKey, record.settledAt, id)
        .exec();
      try {
        await job.remove();
        return true;
      } catch {
        // Locked: a worker took it meanwhile; cancel it as a running job.
        await commands.multi().del(this.#cancelRecordKey(id)).zrem(this.#cancelledKey, id).exec();
      }
    }
    await commands.publish(this.#key('lg:cancel'), id);
    return true;
  }

  settled(id: string, signal: AbortSignal): Promise<JobSnapshot> {
    if (this.#closed) return Promise.reject(new QueueClosedError());
    return this.#watch.settled(id, signal);
  }

  async work(options: WorkOptions, handler: (job: ActiveJob) => Promise<string>): Promise<WorkHandle> {
    const { bullmq, IORedis, commands } = await this.#ready();
    const context: WorkContext = {
      bullmq,
      IORedis,
      url: this.#url,
      name: this.name,
      prefix: this.#prefix,
      stalledInterval: this.#stalledInterval,
      commands,
      publishError: (error) => publishQueueError(this.name, error),
      jobKey: (id) => this.#key(id),
      keys: { cancelChannel: this.#key('lg:cancel') },
      fields: { output: OUTPUT_FIELD, cancel: CANCEL_FIELD },
    };
    const inner = await startBullMQWorker(context, options, handler);
    const handle: WorkHandle = {
      stop: async (drain) => {
        await inner.stop(drain);
        this.#workers.delete(handle);
      },
    };
    this.#workers.add(handle);
    return handle;
  }

  async counts(): Promise<JobCounts> {
    const { queue, commands } = await this.#ready();
    const expired = Date.now() - RETENTION * 1000;
    const [bull, answers] = await Promise.all([
      queue.getJobCounts('waiting', 'delayed', 'prioritized', 'waiting-children', 'active', 'completed', 'failed'),
      commands
        .multi()
        .zremrangebyscore(this.#cancelledKey, '-inf', expired)
        .zcard(this.#cancelledKey)
        .eval(CANCELLED_SETTLED, 3, this.#cancelRequestedKey, this.#key('completed'), this.#key('failed'), expired)
        .exec(),
    ]);
    const cancelledRemoved = Number(answers?.[1]?.[1] ?? 0);
    const [cancelledCompleted = 0, cancelledFailed = 0] = (answers?.[2]?.[1] as number[] | undefined) ?? [];
    const count = (state: string) => bull[state] ?? 0;
    return {
      queued: count('waiting') + count('delayed') + count('prioritized') + count('waiting-children'),
      active: count('active'),
      completed: Math.max(count('completed') - cancelledCompleted, 0),
      failed: Math.max(count('failed') - cancelledFailed, 0),
      cancelled: cancelledRemoved + cancelledCompleted + cancelledFailed,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#rejectClosing(new QueueClosedError());
    this.#watch.close();
    await Promise.allSettled([...this.#workers].map((worker) => worker.stop(0)));
    // Each close waits for Redis at most SHUTDOWN_GRACE, then drops its connection (with Redis
    // away, ioredis would keep a QUIT in its offline queue for ever).
    await Promise.all(
      this.#opened.splice(0).map(async (target) => {
        await within(target.close(), SHUTDOWN_GRACE);
        // Also after a close that resolved: a client that never reached Redis is still
        // reconnecting, and only disconnect() stops that.
        await within(Promise.resolve(target.disconnect()), SHUTDOWN_GRACE);
      }),
    );
  }
}

/** backends/open.ts's entry for redis:// and rediss:// URLs. */
export const openBullMQ: OpenBackend = (url, name, options) => Promise.resolve(new BullMQBackend(url, name, options));
