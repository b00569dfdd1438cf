/**
 * Progress from inside a job: `reportProgress(value)`, called by a marked function while a queue
 * worker runs it in its pool thread. The worker gives each job's task a context (the pool's
 * TASK_CONTEXT run option, exposed in the thread as globals `taskContext`) naming the job and
 * the worker's BroadcastChannel; the value goes there, and the worker's main thread stores the
 * latest one, throttled (worker/progress-relay.ts), where `status(id).progress` reads it.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { InvalidOptionTypeError } from '../errors.js';
import { getGlobal } from '../shared/globals.js';
import { describeValue } from '../shared/validate.js';

/** What the worker puts in a job's task context. */
export interface JobTaskContext {
  queueJob: { id: string; channel: string };
}

/** What the thread posts on the worker's channel. */
export interface ProgressMessage {
  id: string;
  /** The value as JSON text: what both servers store. */
  json: string;
}

const channels = new Map<string, BroadcastChannel>();

/**
 * Report how far the running job got: `status(id).progress` (and the adapters' `jobStatus()`)
 * shows the latest value while it runs and after it settles. `value` must be JSON (it is stored
 * as JSON by both servers). Returns false, doing nothing, outside a queue job (the function
 * called locally, or in a thread pool of the app's), so a job's code need not know where it runs.
 */
export function reportProgress(value: unknown): boolean {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new InvalidOptionTypeError(`progress value must be JSON-serialisable, got ${describeValue(value)} (${(error as Error).message})`);
  }
  if (json === undefined) throw new InvalidOptionTypeError(`progress value must be JSON-serialisable, got ${describeValue(value)}`);
  const context = getGlobal('taskContext') as Partial<JobTaskContext> | undefined;
  const job = context?.queueJob;
  if (job === undefined) return false;
  let channel = channels.get(job.channel);
  if (channel === undefined) {
    channel = new BroadcastChannel(job.channel);
    // Held by the worker's main thread; nothing here must keep a thread (or a process) alive.
    channel.unref();
    channels.set(job.channel, channel);
  }
  channel.postMessage({ id: job.id, json } satisfies ProgressMessage);
  return true;
}
