// loopguard/queue: a marked function on a real job queue (API §7). pg-boss, bullmq and ioredis
// are optional peers, loaded only when a queue of theirs first connects.
export { createQueue, Queue } from './queue/main/queue.js';
export { startWorker } from './queue/worker/worker.js';
export { reportProgress } from './queue/progress.js';
export {
  UnknownJobFunctionError,
  PayloadTooLargeError,
  JobCancelledError,
  JobWaitTimeoutError,
  QueueClosedError,
  JobNotFoundError,
  QueuePeerMissingError,
} from './errors.js';
export type { EnqueuedJob, JobStatus, QueueStats } from './queue/main/queue.js';
export type { QueueOptions, EnqueueOptions, ResultOptions } from './queue/main/options.js';
export type { QueueFunctionStats } from './queue/main/stats.js';
export type { JobState } from './queue/backend.js';
export type { WorkerHandle, WorkerStats } from './queue/worker/worker.js';
export type { WorkerOptions, WorkerLogger, WorkerLogRecord } from './queue/worker/options.js';
