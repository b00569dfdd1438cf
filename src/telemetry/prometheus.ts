/**
 * loopguard/prometheus: the monitor's blocks, the loop's delay and utilisation over the last
 * window, the thread pools' tasks and the job queues' jobs, as prom-client collectors (API §8).
 * prom-client is an optional peer dependency, loaded by this entry only.
 *
 * Names all start with `loopguard_`, so they never collide with collectDefaultMetrics()'s
 * `nodejs_*` and `process_*`. Label values are bounded (labels.ts): route patterns, never
 * paths; at most 100 routes, then `(other)`.
 */
import { Counter, Gauge, Histogram, register as globalRegistry, type Registry } from 'prom-client';
import { InvalidOptionRangeError, InvalidOptionTypeError } from '../errors.js';
import { checkOptionsObject, describeValue } from '../shared/validate.js';
import type { BlockEvent, Monitor } from '../types.js';
import { BoundedLabel, MAX_CALLS, MAX_ROUTES, NONE, blockLabels } from './labels.js';
import { checkMonitor, onBlocks, readLibuv } from './monitor-source.js';
import { PoolLabels, type NamedPoolStats } from './pools.js';
import { QueueLabels } from './queues.js';
import { LoopWindow, type WindowReading } from './window.js';

export interface PrometheusMetricsOptions {
  /** The prom-client Registry to register on. @default prom-client's global `register` */
  registry?: Registry;
  /** Prepended to every metric name (`myapp_` gives `myapp_loopguard_blocks_total`). @default '' */
  prefix?: string;
  /** Bucket bounds in seconds of `loopguard_block_duration_seconds`. @default [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] */
  buckets?: number[];
  /** The monitor whose blocks are counted. @default the running monitor, else one started with defaults */
  monitor?: Monitor;
}

export interface PrometheusMetrics {
  /** The metric names registered (with the prefix). */
  readonly names: readonly string[];
  /** Stop listening to the monitor and remove every loopguard metric from the registry. */
  unregister(): void;
}

const KNOWN = ['registry', 'prefix', 'buckets', 'monitor'] as const;
const DEFAULT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** Quantile label → the field of a delay reading (0 and 1 are min and max). */
const DELAY_QUANTILES = [
  ['0', 'min'],
  ['0.5', 'p50'],
  ['0.9', 'p90'],
  ['0.99', 'p99'],
  ['1', 'max'],
] as const;
const POOL_QUANTILES = [
  ['0.5', 'p50'],
  ['0.99', 'p99'],
  ['1', 'max'],
] as const;

/**
 * Register loopguard's collectors on a prom-client Registry. Nothing is sampled on a timer:
 * the window and the pools are read when Prometheus scrapes.
 */
export function prometheusMetrics(options?: PrometheusMetricsOptions): PrometheusMetrics {
  const given = checkOptionsObject('options', options, KNOWN);
  const registry = checkRegistry(given['registry']);
  const prefix = checkPrefix(given['prefix']);
  const buckets = checkBuckets(given['buckets']);
  const name = (suffix: string): string => `${prefix}loopguard_${suffix}`;
  if (registry.getSingleMetric(name('blocks_total')) !== undefined) {
    throw new InvalidOptionRangeError(
      `registry already holds ${name('blocks_total')}: prometheusMetrics() was called twice for it; ` +
        'call unregister() on the first handle, or pass another prefix',
    );
  }
  const monitor = checkMonitor(given['monitor']);
  const registers = [registry];
  const window = new LoopWindow(monitor);
  const routes = new BoundedLabel(MAX_ROUTES);
  const syncRoutes = new BoundedLabel(MAX_ROUTES);
  const calls = new BoundedLabel(MAX_CALLS);
  const pools = new PoolLabels();

  // Read afresh by each pool metric: stats() is a few counters and percentiles per pool.
  const readPools = (): NamedPoolStats[] => pools.read();
  let reading: WindowReading | undefined;

  const blockDuration = new Histogram({
    name: name('block_duration_seconds'),
    help: 'Duration of each event-loop block the monitor caught, in seconds, by route pattern, method and cause',
    labelNames: ['route', 'method', 'cause'],
    buckets,
    registers,
  });
  const blocks = new Counter({
    name: name('blocks_total'),
    help: 'Event-loop blocks the monitor caught, by route pattern, method and cause',
    labelNames: ['route', 'method', 'cause'],
    registers,
  });
  const syncCalls = new Counter({
    name: name('sync_calls_total'),
    help: 'Blocking Node APIs called inside a request (syncCalls policy), by API and route pattern',
    labelNames: ['call', 'route'],
    registers,
  });
  const delay = new Gauge({
    name: name('eventloop_delay_seconds'),
    help: 'Event-loop delay over the time since the previous scrape, in seconds (quantile 0 is the min, 1 the max)',
    labelNames: ['quantile'],
    registers,
    collect() {
      reading = window.read();
      for (const [quantile, field] of DELAY_QUANTILES) this.set({ quantile }, reading.delay[field] / 1000);
    },
  });
  const utilization = new Gauge({
    name: name('eventloop_utilization'),
    help: 'Event-loop utilisation (0..1) over the time since the previous scrape, not since start',
    registers,
    collect() {
      // The window read by the delay gauge in this scrape (reads within a second agree).
      this.set((reading = window.read()).utilization);
    },
  });
  const libuvDelay = new Gauge({
    name: name('libuv_delay_seconds'),
    help: "How long a tiny libuv thread-pool work item waited for a thread (fs, dns.lookup, crypto, zlib share UV_THREADPOOL_SIZE), over the last minute, in seconds (quantile 1 is the max)",
    labelNames: ['quantile'],
    registers,
    collect() {
      // No samples with the monitor's libuv: false: a 0 would claim a free pool.
      const libuv = readLibuv(monitor);
      if (libuv === undefined) return;
      for (const [quantile, field] of POOL_QUANTILES) this.set({ quantile }, libuv.delay[field] / 1000);
    },
  });
  const taskCounts = new Map<string, { completed: number; failed: number }>();
  const poolTasks = new Counter({
    name: name('pool_tasks_total'),
    help: 'Tasks the thread pools finished, by pool and outcome (completed, failed)',
    labelNames: ['pool', 'outcome'],
    registers,
    collect() {
      for (const { pool, stats } of readPools()) {
        const last = taskCounts.get(pool) ?? { completed: 0, failed: 0 };
        // Counters only go up: add what finished since the previous scrape.
        this.inc({ pool, outcome: 'completed' }, Math.max(0, stats.completed - last.completed));
        this.inc({ pool, outcome: 'failed' }, Math.max(0, stats.failed - last.failed));
        taskCounts.set(pool, { completed: stats.completed, failed: stats.failed });
      }
    },
  });
  const poolWait = new Gauge({
    name: name('pool_wait_seconds'),
    help: 'How long the pool tasks waited for a thread, in seconds, since the pool started',
    labelNames: ['pool', 'quantile'],
    registers,
    collect() {
      // Reset first: a pool closed since the previous scrape leaves no stale series behind.
      this.reset();
      for (const { pool, stats } of readPools()) {
        for (const [quantile, field] of POOL_QUANTILES) this.set({ pool, quantile }, stats.waitMs[field] / 1000);
      }
    },
  });
  const poolRun = new Gauge({
    name: name('pool_run_seconds'),
    help: 'How long the pool tasks ran in their thread, in seconds, since the pool started',
    labelNames: ['pool', 'quantile'],
    registers,
    collect() {
      // Reset first: a pool closed since the previous scrape leaves no stale series behind.
      this.reset();
      for (const { pool, stats } of readPools()) {
        for (const [quantile, field] of POOL_QUANTILES) this.set({ pool, quantile }, stats.runMs[field] / 1000);
      }
    },
  });
  const poolThreads = new Gauge({
    name: name('pool_threads'),
    help: 'Worker threads in each pool',
    labelNames: ['pool'],
    registers,
    collect() {
      this.reset();
      for (const { pool, stats } of readPools()) this.set({ pool }, stats.threads);
    },
  });
  const poolQueued = new Gauge({
    name: name('pool_queued'),
    help: 'Tasks waiting for a thread in each pool',
    labelNames: ['pool'],
    registers,
    collect() {
      this.reset();
      for (const { pool, stats } of readPools()) this.set({ pool }, stats.queued);
    },
  });

  const queues = new QueueLabels();
  const jobCounts = new Map<string, { completed: number; failed: number }>();
  const queueJobs = new Counter({
    name: name('queue_jobs_total'),
    help: 'Jobs this process saw finish on its job queues (loopguard/queue), by queue, function and outcome (completed; failed, cancelled included)',
    labelNames: ['queue', 'function', 'outcome'],
    registers,
    collect() {
      for (const { queue, fn, completed, failed } of queues.read()) {
        const key = `${queue}\0${fn}`;
        const last = jobCounts.get(key) ?? { completed: 0, failed: 0 };
        // Counters only go up: add what finished since the previous scrape (a queue's stats
        // forget their oldest function past 200: counted again from 0 if it comes back).
        this.inc({ queue, function: fn, outcome: 'completed' }, Math.max(0, completed - last.completed));
        this.inc({ queue, function: fn, outcome: 'failed' }, Math.max(0, failed - last.failed));
        jobCounts.set(key, { completed, failed });
      }
    },
  });

  const metrics = [blockDuration, blocks, syncCalls, delay, utilization, libuvDelay, poolTasks, poolWait, poolRun, poolThreads, poolQueued, queueJobs];
  const stopListening = onBlocks(monitor, (event: BlockEvent) => {
    if (event.kind === 'sync-call') {
      const route = blockLabels(event, syncRoutes).route;
      syncCalls.inc({ call: event.call === undefined ? NONE : calls.value(event.call), route });
      return;
    }
    window.recordBlock(event.duration);
    const labels = blockLabels(event, routes);
    blockDuration.observe({ ...labels }, event.duration / 1000);
    blocks.inc({ ...labels });
  });

  const names = metrics.map((metric) => (metric as unknown as { name: string }).name);
  let registered = true;
  return {
    names,
    unregister() {
      if (!registered) return;
      registered = false;
      stopListening();
      window.stop();
      for (const metricName of names) registry.removeSingleMetric(metricName);
    },
  };
}

function checkRegistry(value: unknown): Registry {
  if (value === undefined) return globalRegistry;
  const candidate = value as Partial<Registry> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.registerMetric !== 'function' ||
    typeof candidate.removeSingleMetric !== 'function' ||
    typeof candidate.getSingleMetric !== 'function'
  ) {
    throw new InvalidOptionTypeError(`registry must be a prom-client Registry, got ${describeValue(value)}`);
  }
  return value as Registry;
}

function checkPrefix(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value !== 'string') {
    throw new InvalidOptionTypeError(`prefix must be a string, got ${describeValue(value)}`);
  }
  if (value !== '' && !METRIC_NAME.test(value)) {
    throw new InvalidOptionRangeError(
      `prefix must be empty or a valid start of a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), got ${describeValue(value)}`,
    );
  }
  return value;
}

function checkBuckets(value: unknown): number[] {
  if (value === undefined) return DEFAULT_BUCKETS.slice();
  if (!Array.isArray(value)) {
    throw new InvalidOptionTypeError(`buckets must be an array of numbers (seconds), got ${describeValue(value)}`);
  }
  if (value.length === 0) throw new InvalidOptionRangeError('buckets must hold at least one bound, got an empty array');
  value.forEach((bound: unknown, index) => {
    if (typeof bound !== 'number' || Number.isNaN(bound)) {
      throw new InvalidOptionTypeError(`buckets[${index}] must be a number, got ${describeValue(bound)}`);
    }
    if (!Number.isFinite(bound) || bound <= 0) {
      throw new InvalidOptionRangeError(`buckets[${index}] must be a finite number > 0 (seconds), got ${describeValue(bound)}`);
    }
    if (index > 0 && bound <= (value[index - 1] as number)) {
      throw new InvalidOptionRangeError(
        `buckets must be in increasing order, got ${describeValue(bound)} at buckets[${index}] after ${describeValue(value[index - 1])}`,
      );
    }
  });
  return (value as number[]).slice();
}
