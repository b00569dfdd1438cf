/**
 * The worker's end of `reportProgress()` (queue/progress.ts): one BroadcastChannel per worker,
 * on which its pool threads post `{ id, json }`; the latest value of each running job is stored
 * through the backend's `ActiveJob.progress()`, at most one write in flight per job and one
 * every THROTTLE_MS, so a job reporting in a tight loop costs the server a few writes a second.
 */
import { randomUUID } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import type { ActiveJob } from '../backend.js';
import { diagnosticsChannel } from '../backends/diagnostics.js';
import type { JobTaskContext, ProgressMessage } from '../progress.js';

const THROTTLE_MS = 250;

interface Tracked {
  job: ActiveJob;
  /** The latest value not yet written. */
  pending: string | undefined;
  writing: Promise<void> | undefined;
  lastWrite: number;
  timer: NodeJS.Timeout | undefined;
}

export class ProgressRelay {
  readonly #name = `loopguard:queue:progress:${randomUUID()}`;
  readonly #channel: BroadcastChannel;
  readonly #jobs = new Map<string, Tracked>();
  readonly #queue: string;
  readonly #backend: string;

  constructor(queue: string, backend: string) {
    this.#queue = queue;
    this.#backend = backend;
    this.#channel = new BroadcastChannel(this.#name);
    this.#channel.unref();
    this.#channel.onmessage = (event) => this.#receive((event as { data: ProgressMessage }).data);
  }

  /** The task context for a job's pool task. */
  contextFor(job: ActiveJob): JobTaskContext {
    this.#jobs.set(job.id, { job, pending: undefined, writing: undefined, lastWrite: 0, timer: undefined });
    return { queueJob: { id: job.id, channel: this.#name } };
  }

  /**
   * The job's attempt ended: write the value still pending (before its outcome is stored), then
   * forget it. Undefined for a job never tracked here (an inline one): nothing to wait for, and
   * no promise made a job.
   */
  settle(job: ActiveJob): Promise<void> | undefined {
    const tracked = this.#jobs.get(job.id);
    if (tracked?.job !== job) return undefined;
    this.#jobs.delete(job.id);
    clearTimeout(tracked.timer);
    return this.#finish(tracked);
  }

  async #finish(tracked: Tracked): Promise<void> {
    await tracked.writing;
    if (tracked.pending !== undefined) await this.#write(tracked);
  }

  close(): void {
    for (const tracked of this.#jobs.values()) clearTimeout(tracked.timer);
    this.#jobs.clear();
    this.#channel.close();
  }

  #receive(message: ProgressMessage): void {
    const tracked = this.#jobs.get(message?.id);
    if (tracked === undefined || typeof message.json !== 'string') return; // settled already: too late
    tracked.pending = message.json;
    this.#schedule(tracked);
  }

  #schedule(tracked: Tracked): void {
    if (tracked.writing !== undefined || tracked.timer !== undefined || tracked.pending === undefined) return;
    const wait = tracked.lastWrite + THROTTLE_MS - Date.now();
    if (wait > 0) {
      tracked.timer = setTimeout(() => {
        tracked.timer = undefined;
        this.#schedule(tracked);
      }, wait);
      tracked.timer.unref();
      return;
    }
    tracked.writing = this.#write(tracked).finally(() => {
      tracked.writing = undefined;
      if (this.#jobs.get(tracked.job.id) === tracked) this.#schedule(tracked);
    });
  }

  async #write(tracked: Tracked): Promise<void> {
    const json = tracked.pending!;
    tracked.pending = undefined;
    tracked.lastWrite = Date.now();
    try {
      await tracked.job.progress(JSON.parse(json));
    } catch (error) {
      // A progress value is a hint: a failed write fails nothing (the server may be away).
      if (diagnosticsChannel.hasSubscribers) diagnosticsChannel.publish({ queue: this.#queue, backend: this.#backend, operation: 'progress', error });
    }
  }
}
