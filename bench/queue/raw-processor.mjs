// Raw BullMQ's sandboxed processor (`new Worker(name, file, { useWorkerThreads: true })`): the
// job runs in one of BullMQ's worker threads, the like-for-like baseline for loopguard's worker
// with a thread pool (the hop to a thread and back, made by BullMQ itself).
import * as work from './work.mjs';

export default async function processor(job) {
  return work[job.data.fn](...job.data.args);
}
