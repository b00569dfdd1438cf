/**
 * How the BullMQ backend's settled() learns that a job settled: BullMQ's event stream, read by a
 * blocking XREAD connection of our own, and under it a slow pipelined sweep of the jobs watched
 * for a while (a stream trimmed, a connection lost while a job settled). Each settled() call
 * first glances at its job (batched with the other calls of the same turn of the loop) in case
 * it settled before, except for a job this backend sent after the stream was being read and
 * whose settling event has not been read yet: that event is still to come. So a job sent and
 * awaited costs the caller one command once it settles (the snapshot), besides the send.
 */
import type { Redis } from 'ioredis';
import { JobNotFoundError, QueueClosedError } from '../../errors.js';
import type { JobSnapshot, JobState } from '../backend.js';
import type { CompletedRecord } from './bullmq-work.js';

/**
 * The event bullmq.ts's cancel() adds to BullMQ's event stream when it marks a job that has
 * not settled: read before the job's settling event, it says the job must be read (it reads
 * 'cancelled'), not resolved from its 'completed' event.
 */
export const CANCEL_EVENT = 'lg:cancel';

/** What the watch needs of its backend. */
export interface WatchContext {
  url: string;
  pollInterval: number;
  ready(): Promise<{ IORedis: typeof Redis; commands: Redis }>;
  /** The job, read in one command once it has settled. */
  getSettled(id: string): Promise<JobSnapshot | undefined>;
  key(suffix: string): string;
  /** Rejects when the backend starts closing. */
  closing: Promise<never>;
  closed(): boolean;
  /** Hand a connection to the backend's close(). */
  track(target: { close(): Promise<unknown>; disconnect(): unknown }): void;
  publishError(error: unknown): void;
}

const TERMINAL: ReadonlySet<JobState> = new Set(['completed', 'failed', 'cancelled']);

/** Events of BullMQ's stream after which a job may have settled (a removed job: cancelled). */
const SETTLING_EVENTS: ReadonlySet<string> = new Set(['completed', 'failed', 'removed']);

interface Waiter {
  resolve(job: JobSnapshot): void;
  reject(error: unknown): void;
}

/**
 * The sweep looks at a watched job first this long (ms) after its first settled() call (its
 * events come first: a burst of tiny jobs is over before), then again after half its wait so
 * far (at least pollInterval, at most SWEEP_MAX_GAP): a thousand long jobs awaited at once cost
 * a few pipelined commands a second, not a thousand every pollInterval.
 */
const SWEEP_AFTER = 1000;
const SWEEP_MAX_GAP = 30_000;
/** Jobs remembered as sent (or as settled unwatched, or cancelled) since the stream was read, at most this many each. */
const FRESH_MAX = 10_000;

function remember(set: Set<string>, id: string): void {
  set.add(id);
  if (set.size > FRESH_MAX) set.delete(set.values().next().value as string);
}

/** The snapshot a 'completed' event holds (bullmq-work.ts's CompletedRecord), if it holds one whole. */
function completedSnapshot(id: string, returnvalue: string | undefined): JobSnapshot | undefined {
  if (returnvalue === undefined) return undefined;
  let record: Partial<CompletedRecord>;
  try {
    record = JSON.parse(returnvalue) as Partial<CompletedRecord>;
  } catch {
    return undefined;
  }
  if (record === null || typeof record !== 'object' || record.whole !== true || typeof record.output !== 'string') return undefined;
  const { output, fn, attempts, createdAt, startedAt, settledAt } = record;
  if (typeof fn !== 'string' || typeof attempts !== 'number' || typeof createdAt !== 'number') return undefined;
  if (typeof startedAt !== 'number' || typeof settledAt !== 'number') return undefined;
  const snapshot: JobSnapshot = {
    id,
    fn,
    state: 'completed',
    attempts,
    output,
    createdAt: new Date(createdAt),
    startedAt: new Date(startedAt),
    settledAt: new Date(settledAt),
  };
  if ('progress' in record) snapshot.progress = record.progress;
  return snapshot;
}

export class JobWatch {
  readonly #context: WatchContext;
  readonly #waiters = new Map<string, Set<Waiter>>();
  /**
   * Per watched job: when its first settled() call came, when the sweep looks at it next, and
   * whether every event of it is read (sent while the stream was read): then its 'completed'
   * event, with no CANCEL_EVENT before it, is its snapshot.
   */
  readonly #looks = new Map<string, { since: number; next: number; fresh: boolean }>();
  /** Jobs of which a CANCEL_EVENT was read. */
  readonly #cancelSeen = new Set<string>();
  /** Jobs sent after the stream was being read, none of whose settling events was read yet. */
  readonly #fresh = new Set<string>();
  /**
   * Jobs of which a settling event was read while nobody waited for them: a reply to a send may
   * be read after the job's settling event when both arrive in one turn of the loop.
   */
  readonly #settledUnwatched = new Set<string>();
  readonly #toGlance = new Set<string>();
  #events: Promise<void> | undefined;
  #reading = false;
  #poll: NodeJS.Timeout | undefined;
  #sweeping = false;

  constructor(context: WatchContext) {
    this.#context = context;
  }

  /** Reject every pending settled() call (the backend is closing). */
  close(): void {
    this.#stopPolling();
    for (const waiters of [...this.#waiters.values()]) {
      for (const waiter of [...waiters]) waiter.reject(new QueueClosedError());
    }
  }

  /** Whether the stream is being read: every event from now on will be. */
  get reading(): boolean {
    return this.#reading;
  }

  /** The backend sent job `id` while the stream was being read: its events are still to come. */
  sent(id: string): void {
    if (!this.#settledUnwatched.has(id)) remember(this.#fresh, id);
  }

  settled(id: string, signal: AbortSignal): Promise<JobSnapshot> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<JobSnapshot>((resolve, reject) => {
      // Sent while the stream was read, and no settling event of it read since: it has not
      // settled, or its event is on the way.
      const fresh = this.#fresh.delete(id);
      let waiters = this.#waiters.get(id);
      if (!waiters) {
        this.#waiters.set(id, (waiters = new Set()));
        const now = Date.now();
        this.#looks.set(id, { since: now, next: now + Math.max(SWEEP_AFTER, this.#context.pollInterval), fresh });
      }
      const forget = () => {
        signal.removeEventListener('abort', onAbort);
        waiters.delete(waiter);
        if (waiters.size === 0 && this.#waiters.get(id) === waiters) {
          this.#waiters.delete(id);
          this.#looks.delete(id);
        }
        if (this.#waiters.size === 0) this.#stopPolling();
      };
      const waiter: Waiter = {
        resolve: (job) => (forget(), resolve(job)),
        reject: (error) => (forget(), reject(error)),
      };
      const onAbort = () => waiter.reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      waiters.add(waiter);
      this.#startPolling();
      // Nothing to look at before its events.
      if (fresh) return;
      // Subscribe first, then look: an event that lands in between is not missed.
      this.#listen().then(
        () => this.#glanceSoon(id),
        (error) => waiter.reject(error),
      );
    });
  }

  /**
   * BullMQ's event stream, read by our own blocking XREAD connection, opened for the first
   * settled() call. Not BullMQ's QueueEvents: its connection is a duplicate it owns, and one that
   * never reached Redis keeps reconnecting after close(), holding the process open.
   */
  #listen(): Promise<void> {
    this.#events ??= (async () => {
      const { IORedis } = await this.#context.ready();
      const reader = new IORedis(this.#context.url, { maxRetriesPerRequest: null });
      this.#context.track({ close: async () => reader.disconnect(), disconnect: () => reader.disconnect() });
      reader.on('error', (error) => this.#context.publishError(error));
      const stream = this.#context.key('events');
      // The stream's last entry now: every event after it is read below, so a settled() that
      // looks at its job after this resolves misses nothing.
      const last = await Promise.race([reader.xrevrange(stream, '+', '-', 'COUNT', 1), this.#context.closing]);
      this.#reading = true;
      void this.#readEvents(reader, stream, last[0]?.[0] ?? '0-0');
    })();
    return this.#events;
  }

  async #readEvents(reader: Redis, stream: string, from: string): Promise<void> {
    let lastId = from;
    let failed = false;
    while (!this.#context.closed()) {
      try {
        const answer = await reader.xread('BLOCK', 5000, 'STREAMS', stream, lastId);
        // Back after an error: a look at every watched job, in case the stream was lost or
        // trimmed meanwhile (a Redis restarted without persistence).
        if (failed) {
          failed = false;
          void this.#glance([...this.#waiters.keys()]);
        }
        for (const [, entries] of answer ?? []) {
          for (const [id, fields] of entries) {
            lastId = id;
            const event = fields[fields.indexOf('event') + 1] ?? '';
            const settling = SETTLING_EVENTS.has(event);
            if (!settling && event !== CANCEL_EVENT) continue;
            const jobIndex = fields.indexOf('jobId');
            const jobId = jobIndex === -1 ? undefined : fields[jobIndex + 1];
            if (jobId === undefined) continue;
            if (!settling) remember(this.#cancelSeen, jobId);
            else if (this.#waiters.has(jobId)) this.#settle(jobId, event, fields);
            // Settled before its settled() call: that call must look.
            else if (!this.#fresh.delete(jobId)) remember(this.#settledUnwatched, jobId);
          }
        }
      } catch (error) {
        if (this.#context.closed()) return;
        failed = true;
        // What was read of the stream may be lost with the server: every settled() call looks,
        // and every job is read once it settles.
        this.#fresh.clear();
        for (const look of this.#looks.values()) look.fresh = false;
        this.#context.publishError(error);
        await new Promise((resolve) => setTimeout(resolve, 500).unref());
      }
    }
  }

  /** A settling event of a watched job: its snapshot, from the event when it holds one. */
  #settle(id: string, event: string, fields: string[]): void {
    if (event === 'completed' && this.#looks.get(id)?.fresh === true && !this.#cancelSeen.has(id)) {
      const index = fields.indexOf('returnvalue');
      const snapshot = completedSnapshot(id, index === -1 ? undefined : fields[index + 1]);
      if (snapshot) {
        for (const waiter of [...(this.#waiters.get(id) ?? [])]) waiter.resolve(snapshot);
        return;
      }
    }
    void this.#check(id);
  }

  async #check(id: string): Promise<void> {
    const waiters = this.#waiters.get(id);
    if (!waiters || waiters.size === 0) return;
    let job: JobSnapshot | undefined;
    try {
      job = await this.#context.getSettled(id);
    } catch {
      return; // Redis away for a moment: the poll looks again.
    }
    if (job && !TERMINAL.has(job.state)) return;
    for (const waiter of [...waiters]) {
      if (job) waiter.resolve(job);
      else waiter.reject(new JobNotFoundError(id));
    }
  }

  // A safety net under the events (a stream trimmed, a connection lost while a job settled):
  // one pipelined look at the finishedOn of the watched jobs due for a look (SWEEP_AFTER), and a
  // full read only for those that settled or vanished.
  #startPolling() {
    if (this.#poll) return;
    this.#poll = setInterval(() => void this.#sweep(), this.#context.pollInterval);
    this.#poll.unref();
  }

  async #sweep() {
    if (this.#sweeping || this.#waiters.size === 0) return;
    this.#sweeping = true;
    try {
      const now = Date.now();
      const due: string[] = [];
      for (const [id, look] of this.#looks) {
        if (look.next > now) continue;
        due.push(id);
        look.next = now + Math.min(Math.max((now - look.since) / 2, this.#context.pollInterval), SWEEP_MAX_GAP);
      }
      if (due.length > 0) await this.#glance(due);
    } finally {
      this.#sweeping = false;
    }
  }

  /** A new settled() call's first look, batched with the others of the same turn of the loop. */
  #glanceSoon(id: string) {
    this.#toGlance.add(id);
    if (this.#toGlance.size > 1) return;
    setImmediate(() => {
      const ids = [...this.#toGlance];
      this.#toGlance.clear();
      void this.#glance(ids);
    });
  }

  /** One pipelined look at each job's finishedOn; a full get() only for those settled or gone. */
  async #glance(ids: string[]) {
    try {
      const { commands } = await this.#context.ready();
      const pipeline = commands.pipeline();
      for (const id of ids) pipeline.hmget(this.#context.key(id), 'finishedOn', 'name');
      const answers = (await pipeline.exec()) ?? [];
      ids.forEach((id, index) => {
        const [error, fields] = answers[index] ?? [];
        const [finishedOn, name] = (fields as Array<string | null> | undefined) ?? [];
        if (error || finishedOn || !name) void this.#check(id);
      });
    } catch (error) {
      this.#context.publishError(error);
    }
  }

  #stopPolling() {
    clearInterval(this.#poll);
    this.#poll = undefined;
  }
}
