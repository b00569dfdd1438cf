// The job functions: marked once, with the queue they run on. The app imports this module to
// call them (or enqueue them from a route); the worker loads it to run them:
//   npx loopguard worker examples/queue/tasks.mjs --name reports
import { threaded } from 'loopguard';
import { createQueue, reportProgress } from 'loopguard/queue';
import { summarise } from './report-lines.mjs';

// postgres://… → pg-boss on PostgreSQL; redis://… → BullMQ on Redis. Connects on first use.
export const queue = createQueue({ url: process.env.QUEUE_URL ?? process.env.LOOPGUARD_QUEUE_URL, name: 'reports' });

/**
 * Build a sales report: seconds of CPU that must not run in a request, nor on the worker's own
 * loop (the worker runs it in its thread pool, so it keeps renewing the job's lease).
 * `input` is what the route helper passes: { params, query, body, headers }.
 */
export const renderReport = threaded(
  async function renderReport(input) {
    const { month = '2026-11', rows = 3_000_000 } = input.body ?? {};
    // From the job's own thread: GET /jobs/:id shows the latest as `progress` (a no-op when
    // the function runs anywhere but on a queue worker).
    const lines = await summarise(month, rows, (done) => reportProgress({ rows: done, of: rows }));
    return { month, ...lines, generatedAt: new Date() };
  },
  { queue, timeout: 60_000 },
);
