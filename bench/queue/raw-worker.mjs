// A worker process written against the raw client, as a pg-boss or BullMQ user would write
// one: the processor calls the function on the worker's own event loop.
// one: the processor calls the function on the worker's own event loop; with `sandboxed`
// (BullMQ only), BullMQ runs it in its worker threads (raw-processor.mjs).
// Usage: node raw-worker.mjs <pg-boss|bullmq> <url> <queue name> <concurrency> [sandboxed]
import { fileURLToPath } from 'node:url';
import * as work from './work.mjs';

const [backend, url, name, concurrencyText, mode] = process.argv.slice(2);
const sandboxed = mode === 'sandboxed';
const concurrency = Number(concurrencyText);
const run = ({ fn, args }) => work[fn](...args);
let stop;

if (backend === 'pg-boss') {
  const { PgBoss } = await import('pg-boss');
  const boss = new PgBoss({ connectionString: url, schedule: false });
  boss.on('error', (error) => console.error(error));
  await boss.start();
  // pg-boss's own work() waits out its polling interval (0.5 s at least) after every batch,
  // even with a backlog: a throughput-minded user fetches in a loop instead, as loopguard's
  // backend does — `concurrency` jobs in hand, a free slot fetches at once, an empty fetch
  // waits 100 ms (loopguard's default pollInterval).
  let running = 0;
  let stopped = false;
  let fetching = false;
  const pump = async () => {
    if (fetching || stopped) return;
    fetching = true;
    try {
      while (!stopped && running < concurrency) {
        const jobs = await boss.fetch(name, { batchSize: concurrency - running });
        if (jobs.length === 0) {
          setTimeout(pump, 100);
          break;
        }
        for (const job of jobs) {
          running += 1;
          Promise.resolve()
            .then(() => run(job.data))
            .then(
              (value) => boss.complete(name, job.id, { value }),
              (error) => boss.fail(name, job.id, { message: error.message }),
            )
            .finally(() => {
              running -= 1;
              void pump();
            });
        }
      }
    } finally {
      fetching = false;
    }
  };
  void pump();
  stop = async () => {
    stopped = true;
    await boss.stop({ graceful: false });
  };
} else {
  const { Worker } = await import('bullmq');
  const processor = sandboxed ? fileURLToPath(new URL('./raw-processor.mjs', import.meta.url)) : async (job) => run(job.data);
  const worker = new Worker(name, processor, { connection: { url }, concurrency, useWorkerThreads: sandboxed });
  worker.on('error', (error) => console.error(error));
  await worker.waitUntilReady();
  stop = () => worker.close(true);
}
// The benchmark stops it with SIGTERM once a variant's scenarios are done.
process.once('SIGTERM', async () => {
  await stop();
  process.exit(0);
});
