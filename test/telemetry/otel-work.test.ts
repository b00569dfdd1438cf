/**
 * loopguard/otel's thread-pool and job-queue metrics on the OpenTelemetry SDK's MeterProvider,
 * read with its in-memory exporter, in this process: every live ThreadPool by name, its finished
 * tasks by outcome, its threads by state, its queue, and its wait and run percentiles in seconds;
 * every job queue's finished jobs by function and outcome.
 * The SDK (3.x) needs Node >= 22.15: on older Node these tests are skipped, with the reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Monitor } from 'loopguard';
import { otelMetrics, type OtelMetrics } from 'loopguard/otel';
import { standInQueue } from '../helpers/stand-in-queue.js';

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const sdkRuns = major > 22 || (major === 22 && minor >= 15);
const skipReason = sdkRuns ? '' : ` (skipped: needs Node ≥ 22.15, the OpenTelemetry SDK 3's minimum; this is ${process.version})`;

interface Point {
  attributes: Record<string, unknown>;
  value: unknown;
}
interface Exported {
  name: string;
  unit: string;
  points: Point[];
}

/** A monitor that never blocks: only the pools are under test. */
function quietMonitor(): Monitor {
  const monitor = { on: () => monitor, off: () => monitor, stats: () => ({}) };
  return monitor as unknown as Monitor;
}

type Temporality = 'cumulative' | 'delta';

/** otelMetrics() on an SDK MeterProvider whose in-memory exporter exports once per collect(). */
async function sdkExporter(temporality: Temporality): Promise<{ handle: OtelMetrics; collect(): Promise<Map<string, Exported>> }> {
  const sdk = await import('@opentelemetry/sdk-metrics');
  const exporter = new sdk.InMemoryMetricExporter(
    temporality === 'delta' ? sdk.AggregationTemporality.DELTA : sdk.AggregationTemporality.CUMULATIVE,
  );
  const reader = new sdk.PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new sdk.MeterProvider({ readers: [reader] });
  const handle = otelMetrics({ meterProvider, runtimeMetrics: false, spans: false, monitor: quietMonitor() });
  const collect = async (): Promise<Map<string, Exported>> => {
    exporter.reset();
    await reader.forceFlush();
    const metrics = new Map<string, Exported>();
    for (const resource of exporter.getMetrics()) {
      for (const scope of resource.scopeMetrics) {
        for (const metric of scope.metrics) {
          if (!/^loopguard\.(pool|queue)\./.test(metric.descriptor.name)) continue;
          const points = metric.dataPoints.map((point) => ({ attributes: point.attributes, value: point.value }));
          metrics.set(metric.descriptor.name, { name: metric.descriptor.name, unit: metric.descriptor.unit, points });
        }
      }
    }
    return metrics;
  };
  return { handle, collect };
}

const of = (metric: Exported | undefined, attributes: Record<string, unknown>): unknown =>
  metric?.points.find((point) => Object.entries(attributes).every(([key, value]) => point.attributes[key] === value))?.value;

describe.skipIf(!sdkRuns)(`otelMetrics() thread-pool metrics with the SDK's in-memory exporter${skipReason}`, () => {
  let handle: OtelMetrics;
  let collect: () => Promise<Map<string, Exported>>;

  beforeAll(async () => {
    ({ handle, collect } = await sdkExporter('cumulative'));
  });
  afterAll(() => handle?.unregister());

  it('counts a pool\'s finished tasks by outcome, names its threads by state, and gives wait and run in seconds', async () => {
    const pool = createPool({ name: 'thumbnails', maxThreads: 1 });
    try {
      await Promise.all([1, 2, 3].map((n) => pool.run((x: number) => x * 2, [n])));
      await expect(pool.run(() => { throw new Error('bad image'); })).rejects.toThrow('bad image');
      const metrics = await collect();
      const tasks = metrics.get('loopguard.pool.tasks');
      expect(tasks?.unit).toBe('{task}');
      const name = { 'loopguard.pool.name': 'thumbnails' };
      expect(of(tasks, { ...name, 'loopguard.pool.task.outcome': 'completed' })).toBe(3);
      expect(of(tasks, { ...name, 'loopguard.pool.task.outcome': 'failed' })).toBe(1);
      const threads = metrics.get('loopguard.pool.thread.count');
      expect(threads?.unit).toBe('{thread}');
      expect(of(threads, { ...name, 'loopguard.pool.thread.state': 'busy' })).toBe(0);
      expect(of(threads, { ...name, 'loopguard.pool.thread.state': 'idle' })).toBe(1);
      expect(of(metrics.get('loopguard.pool.queue.length'), name)).toBe(0);
      for (const figure of ['wait', 'run']) {
        for (const field of ['p50', 'p99', 'max']) {
          const gauge = metrics.get(`loopguard.pool.${figure}.${field}`);
          expect(gauge?.unit, `${figure}.${field}`).toBe('s');
          const seconds = of(gauge, name) as number;
          // Seconds, not ms: four tiny tasks on a warm thread are far below a second.
          expect(seconds, `${figure}.${field}`).toBeGreaterThanOrEqual(0);
          expect(seconds, `${figure}.${field}`).toBeLessThan(1);
        }
      }
    } finally {
      await pool.close();
    }
  });

  it('shows a held thread as busy and the tasks behind it as queued', async () => {
    const pool = createPool({ name: 'reports', maxThreads: 1 });
    // [0]: the test releases the tasks; [1]: the first task says it has started.
    const shared = new Int32Array(new SharedArrayBuffer(8));
    const hold = (slots: Int32Array): number => {
      Atomics.store(slots, 1, 1);
      Atomics.notify(slots, 1);
      Atomics.wait(slots, 0, 0, 30_000);
      return 1;
    };
    const tasks = [pool.run(hold, [shared]), pool.run(hold, [shared]), pool.run(hold, [shared])];
    try {
      const started = Atomics.waitAsync(shared, 1, 0, 30_000);
      if (started.async) await started.value;
      const metrics = await collect();
      const name = { 'loopguard.pool.name': 'reports' };
      expect(of(metrics.get('loopguard.pool.thread.count'), { ...name, 'loopguard.pool.thread.state': 'busy' })).toBe(1);
      expect(of(metrics.get('loopguard.pool.queue.length'), name)).toBe(2);
    } finally {
      Atomics.store(shared, 0, 1);
      Atomics.notify(shared, 0);
      await Promise.all(tasks);
      await pool.close();
    }
  });

  it('counts the jobs each job queue saw finish, by function and outcome', async () => {
    const reports = standInQueue('reports');
    try {
      reports.set('renderReport', { completed: 5, failed: 2 });
      const jobs = (await collect()).get('loopguard.queue.jobs');
      expect(jobs?.unit).toBe('{job}');
      const attributes = { 'loopguard.queue.name': 'reports', 'loopguard.queue.function': 'renderReport' };
      expect(of(jobs, { ...attributes, 'loopguard.queue.job.outcome': 'completed' })).toBe(5);
      expect(of(jobs, { ...attributes, 'loopguard.queue.job.outcome': 'failed' })).toBe(2);
      reports.set('renderReport', { completed: 6, failed: 2 });
      expect(of((await collect()).get('loopguard.queue.jobs'), { ...attributes, 'loopguard.queue.job.outcome': 'completed' })).toBe(6);
    } finally {
      reports.close();
    }
  });

  // Delta temporality: a series not observed in an interval has no point (cumulative keeps
  // repeating the SDK's last value of it).
  it('stops observing a pool once it is closed, and every pool once unregistered', async () => {
    const delta = await sdkExporter('delta');
    const pool = createPool({ name: 'exports', maxThreads: 1 });
    await pool.run((x: number) => x + 1, [1]);
    const open = await delta.collect();
    expect(of(open.get('loopguard.pool.tasks'), { 'loopguard.pool.name': 'exports', 'loopguard.pool.task.outcome': 'completed' })).toBe(1);
    await pool.close();
    const closed = await delta.collect();
    const names = (closed.get('loopguard.pool.thread.count')?.points ?? []).map((point) => point.attributes['loopguard.pool.name']);
    expect(names).not.toContain('exports');

    const other = createPool({ name: 'after-unregister', maxThreads: 1 });
    try {
      await other.run((x: number) => x + 1, [1]);
      expect(of((await delta.collect()).get('loopguard.pool.queue.length'), { 'loopguard.pool.name': 'after-unregister' })).toBe(0);
      delta.handle.unregister();
      expect([...(await delta.collect()).keys()]).toEqual([]);
    } finally {
      await other.close();
    }
  });
});
