/**
 * loopguard/otel's thread-pool and job-queue metrics, read from every live ThreadPool and Queue
 * at each collection (pools.ts, queues.ts), as the Prometheus exporter lists them.
 */
import type { BatchObservableResult, Meter, Observable } from '@opentelemetry/api';
import { PoolLabels } from './pools.js';
import { QueueLabels } from './queues.js';

const POOL_FIELDS = ['p50', 'p99', 'max'] as const;

/**
 * The thread pools' figures (every live ThreadPool, the default one included, as the Prometheus
 * exporter lists them), named by the semantic conventions' rules and the closest prior art, the
 * .NET thread pool's `dotnet.thread_pool.*`: a counter of discrete things is plural
 * (`loopguard.pool.tasks`, which an OTel-to-Prometheus exporter turns into
 * `loopguard_pool_tasks_total`, this package's own Prometheus name); an up-down count is
 * `*.count` or `*.length`, never plural. Wait and run are percentiles since the pool started
 * (stats() keeps no samples to put in a histogram), so one gauge per figure, as
 * `nodejs.eventloop.delay.*` and `loopguard.libuv.delay.*` are. Returns how to stop.
 */
export function observePools(meter: Meter): () => void {
  const labels = new PoolLabels();
  const tasks = meter.createObservableCounter('loopguard.pool.tasks', {
    description: 'Tasks the thread pool finished since it started, by outcome (completed, failed)',
    unit: '{task}',
  });
  const threads = meter.createObservableUpDownCounter('loopguard.pool.thread.count', {
    description: 'Worker threads in the thread pool, by state (busy: running or holding a task; idle)',
    unit: '{thread}',
  });
  const queue = meter.createObservableUpDownCounter('loopguard.pool.queue.length', {
    description: 'Tasks waiting for a thread in the thread pool',
    unit: '{task}',
  });
  const wait = POOL_FIELDS.map((field) =>
    meter.createObservableGauge(`loopguard.pool.wait.${field}`, {
      description: `${field} of how long the thread pool's tasks waited for a thread, since the pool started`,
      unit: 's',
    }),
  );
  const run = POOL_FIELDS.map((field) =>
    meter.createObservableGauge(`loopguard.pool.run.${field}`, {
      description: `${field} of how long the thread pool's tasks ran in their thread, since the pool started`,
      unit: 's',
    }),
  );
  const observables: Observable[] = [tasks, threads, queue, ...wait, ...run];
  const callback = (result: BatchObservableResult): void => {
    for (const { pool, stats } of labels.read()) {
      const name = { 'loopguard.pool.name': pool };
      // Cumulative: an observable counter reports the total, the SDK makes the deltas.
      result.observe(tasks, stats.completed, { ...name, 'loopguard.pool.task.outcome': 'completed' });
      result.observe(tasks, stats.failed, { ...name, 'loopguard.pool.task.outcome': 'failed' });
      result.observe(threads, stats.busy, { ...name, 'loopguard.pool.thread.state': 'busy' });
      result.observe(threads, Math.max(0, stats.threads - stats.busy), { ...name, 'loopguard.pool.thread.state': 'idle' });
      result.observe(queue, stats.queued, name);
      POOL_FIELDS.forEach((field, index) => {
        result.observe(wait[index]!, stats.waitMs[field] / 1000, name);
        result.observe(run[index]!, stats.runMs[field] / 1000, name);
      });
    }
  };
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}

/**
 * The job queues' finished jobs (loopguard/queue), per queue and function: `loopguard.queue.jobs`,
 * a counter of discrete things, so plural, as `loopguard.pool.tasks` (and
 * `loopguard_queue_jobs_total` through an OTel-to-Prometheus exporter). Returns how to stop.
 */
export function observeQueues(meter: Meter): () => void {
  const labels = new QueueLabels();
  const jobs = meter.createObservableCounter('loopguard.queue.jobs', {
    description: 'Jobs this process saw finish on the job queue, by function and outcome (completed; failed, cancelled included)',
    unit: '{job}',
  });
  const callback = (result: BatchObservableResult): void => {
    for (const { queue, fn, completed, failed } of labels.read()) {
      const attributes = { 'loopguard.queue.name': queue, 'loopguard.queue.function': fn };
      result.observe(jobs, completed, { ...attributes, 'loopguard.queue.job.outcome': 'completed' });
      result.observe(jobs, failed, { ...attributes, 'loopguard.queue.job.outcome': 'failed' });
    }
  };
  meter.addBatchObservableCallback(callback, [jobs]);
  return () => meter.removeBatchObservableCallback(callback, [jobs]);
}
