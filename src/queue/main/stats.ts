/**
 * queue.stats(): what this process has seen of its own jobs, per function, without asking the
 * server (stats() is synchronous, for the exporters' scrape). Bounded: at most MAX_FUNCTIONS
 * functions and MAX_JOBS jobs are remembered, the oldest forgotten first.
 */
import { DurationHistogram } from '../../pool/main/histogram.js';
import type { JobSnapshot, JobState } from '../backend.js';

export interface QueueFunctionStats {
  /** Jobs this process enqueued that it last saw queued. */
  queued: number;
  /** … last saw running. */
  active: number;
  /** Jobs this process saw complete (through result(), status() or run()). */
  completed: number;
  /** … saw fail (cancelled jobs count here too). */
  failed: number;
  /** ms from enqueue to the start of the attempt that settled, on the server's clock. */
  waitMs: { p50: number; p99: number };
  /** ms the settling attempt ran. */
  runMs: { p50: number; p99: number };
}

const MAX_FUNCTIONS = 200;
const MAX_JOBS = 10_000;

interface FunctionRecord {
  completed: number;
  failed: number;
  wait: DurationHistogram;
  run: DurationHistogram;
}

export class QueueStatsRecorder {
  readonly #functions = new Map<string, FunctionRecord>();
  /** Job id → its function and the state last seen; insertion order = age. */
  readonly #jobs = new Map<string, { fn: string; state: JobState }>();

  enqueued(id: string, fn: string): void {
    if (this.#jobs.has(id)) return; // deduplicated by key: the same job again
    this.#remember(id, fn, 'queued');
    this.#record(fn);
  }

  /** A snapshot read from the server: its state, and its times once it has settled. */
  seen(job: JobSnapshot): void {
    const known = this.#jobs.get(job.id);
    if (known !== undefined && isFinal(known.state)) return; // counted already
    const fn = known?.fn ?? job.fn;
    this.#remember(job.id, fn, job.state);
    if (!isFinal(job.state)) return;
    const record = this.#record(fn);
    if (job.state === 'completed') record.completed++;
    else record.failed++;
    if (job.startedAt !== undefined) {
      record.wait.record(Math.max(0, job.startedAt.getTime() - job.createdAt.getTime()));
      if (job.settledAt !== undefined) record.run.record(Math.max(0, job.settledAt.getTime() - job.startedAt.getTime()));
    }
  }

  snapshot(): Record<string, QueueFunctionStats> {
    const result: Record<string, QueueFunctionStats> = {};
    for (const [fn, record] of this.#functions) {
      result[fn] = {
        queued: 0,
        active: 0,
        completed: record.completed,
        failed: record.failed,
        waitMs: { p50: record.wait.percentile(50), p99: record.wait.percentile(99) },
        runMs: { p50: record.run.percentile(50), p99: record.run.percentile(99) },
      };
    }
    for (const { fn, state } of this.#jobs.values()) {
      const entry = result[fn];
      if (entry === undefined) continue;
      if (state === 'queued') entry.queued++;
      else if (state === 'active') entry.active++;
    }
    return result;
  }

  #remember(id: string, fn: string, state: JobState): void {
    this.#jobs.delete(id);
    this.#jobs.set(id, { fn, state });
    if (this.#jobs.size > MAX_JOBS) this.#jobs.delete(this.#jobs.keys().next().value as string);
  }

  #record(fn: string): FunctionRecord {
    let record = this.#functions.get(fn);
    if (record === undefined) {
      record = { completed: 0, failed: 0, wait: new DurationHistogram(), run: new DurationHistogram() };
      this.#functions.set(fn, record);
      if (this.#functions.size > MAX_FUNCTIONS) this.#functions.delete(this.#functions.keys().next().value as string);
    }
    return record;
  }
}

function isFinal(state: JobState): boolean {
  return state === 'completed' || state === 'failed' || state === 'cancelled';
}
