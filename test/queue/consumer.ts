/**
 * A minimal stand-in for the worker process (src/queue/worker/, another branch), for testing
 * the app's side: it takes jobs with backend.work() and calls the marked function itself, in
 * this process. It finds the function as the worker does, by its key among the marked
 * functions of the modules this process imported.
 */
import { EventEmitter, once } from 'node:events';
import { openBackend } from '../../src/queue/backends/open.js';
import { JobAttemptFailure, type ActiveJob, type QueueBackend, type WorkHandle } from '../../src/queue/backend.js';
import { decodeArguments, encodeError, encodeResult } from '../../src/queue/payload.js';
import { UnknownJobFunctionError } from '../../src/errors.js';

type Marked = (...args: unknown[]) => unknown;

function markedByKey(key: string): Marked | undefined {
  const registry = (globalThis as Record<symbol, Map<string, Marked> | undefined>)[Symbol.for('loopguard.v1.threadedRegistry')];
  for (const [registryKey, fn] of registry ?? []) if (registryKey.endsWith(`#${key}`)) return fn;
  return undefined;
}

export interface Consumer {
  backend: QueueBackend;
  /** Keys of the jobs started, in start order. */
  started: string[];
  /** Every ActiveJob handed to the consumer, by id. */
  jobs: Map<string, ActiveJob>;
  /** The job with this id once the consumer has started it. */
  startOf(id: string): Promise<ActiveJob>;
  stop(drain?: number): Promise<void>;
}

export async function startConsumer(url: string, name: string, concurrency: number): Promise<Consumer> {
  const backend = await openBackend(url, name, { pollInterval: 50, timeout: 60_000 });
  const started: string[] = [];
  const jobs = new Map<string, ActiveJob>();
  const starts = new EventEmitter();
  const handle: WorkHandle = await backend.work({ concurrency }, async (job) => {
    started.push(job.fn);
    jobs.set(job.id, job);
    starts.emit(job.id, job);
    const fn = markedByKey(job.fn);
    if (fn === undefined) {
      const error = new UnknownJobFunctionError(job.fn, `no marked function "${job.fn}" in this worker's modules`);
      throw new JobAttemptFailure(error.message, encodeError(error), false);
    }
    const aborted = new Promise<never>((_, reject) => job.signal.addEventListener('abort', () => reject(job.signal.reason), { once: true }));
    aborted.catch(() => undefined);
    const value = await Promise.race([fn(...decodeArguments(job.args)), aborted]);
    return encodeResult(job.fn, value);
  });
  return {
    backend,
    started,
    jobs,
    async startOf(id) {
      return jobs.get(id) ?? ((await once(starts, id)) as [ActiveJob])[0];
    },
    async stop(drain = 5_000) {
      await handle.stop(drain);
      await backend.close();
    },
  };
}
