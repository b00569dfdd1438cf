/**
 * The job queue in both exporters, against a real PostgreSQL (pg-boss 12) with the in-test
 * consumer: a Queue lists itself while open, and the jobs this process saw finish are counted
 * by queue, function and outcome, in prom-client and on the OpenTelemetry SDK's MeterProvider.
 */
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Monitor } from 'loopguard';
import type { Queue } from 'loopguard/queue';
import { prometheusMetrics } from 'loopguard/prometheus';
import { otelMetrics } from 'loopguard/otel';
import { startConsumer, type Consumer } from './consumer.js';
import { pgBossSupported, pgSuiteName, postgresUrl } from './support.js';

type Tasks = typeof import('../fixtures/queue/tasks.mjs');
const suite = pgBossSupported ? describe : describe.skip;
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const sdkRuns = major > 22 || (major === 22 && minor >= 15);

/** A monitor that never blocks: only the queue is under test. */
function quietMonitor(): Monitor {
  const monitor = { on: () => monitor, off: () => monitor, stats: () => ({}) };
  return monitor as unknown as Monitor;
}

function liveQueues(): Map<object, string> {
  return (globalThis as unknown as Record<symbol, Map<object, string>>)[Symbol.for('loopguard.v1.liveQueues')] ?? new Map();
}

suite(pgSuiteName('job-queue metrics on PostgreSQL (pg-boss)'), () => {
  let tasks: Tasks;
  let queue: Queue;
  let consumer: Consumer;
  let name: string;

  beforeAll(async () => {
    const url = postgresUrl();
    name = `billing-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    process.env.QUEUE_URL = url;
    process.env.QUEUE_NAME = name;
    tasks = await import('../fixtures/queue/tasks.mjs');
    ({ queue } = await import('../fixtures/queue/queue.mjs'));
    consumer = await startConsumer(url, name, 4);
  });

  afterAll(async () => {
    await consumer?.stop();
    await queue?.close();
  });

  it('counts the jobs this process saw finish, by queue, function and outcome, in both exporters', async () => {
    const registry = new Registry();
    const prometheus = prometheusMetrics({ registry, monitor: quietMonitor() });
    try {
      await tasks.renderInvoice('c-1', [{ sku: 'desk', cents: 100, quantity: 1 }]);
      await tasks.renderInvoice('c-2', [{ sku: 'lamp', cents: 100, quantity: 2 }]);
      await expect(tasks.chargeInvoice('inv-1', 250_000n)).rejects.toMatchObject({ name: 'InvoiceRejectedError' });
      const text = await registry.metrics();
      const series = (fn: string, outcome: string) =>
        new RegExp(`^loopguard_queue_jobs_total\\{queue="${name}",function="${fn}",outcome="${outcome}"\\} (\\d+)$`, 'm');
      expect(text.match(series('renderInvoice', 'completed'))?.[1]).toBe('2');
      expect(text.match(series('chargeInvoice', 'failed'))?.[1]).toBe('1');
      expect(text.match(series('chargeInvoice', 'completed'))?.[1]).toBe('0');

      if (sdkRuns) {
        const sdk = await import('@opentelemetry/sdk-metrics');
        const exporter = new sdk.InMemoryMetricExporter(sdk.AggregationTemporality.CUMULATIVE);
        const reader = new sdk.PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
        const otel = otelMetrics({ meterProvider: new sdk.MeterProvider({ readers: [reader] }), runtimeMetrics: false, spans: false, monitor: quietMonitor() });
        try {
          await reader.forceFlush();
          const jobs = exporter
            .getMetrics()
            .flatMap((resource) => resource.scopeMetrics.flatMap((scope) => scope.metrics))
            .find((metric) => metric.descriptor.name === 'loopguard.queue.jobs');
          const point = jobs?.dataPoints.find(
            (candidate) =>
              candidate.attributes['loopguard.queue.name'] === name &&
              candidate.attributes['loopguard.queue.function'] === 'renderInvoice' &&
              candidate.attributes['loopguard.queue.job.outcome'] === 'completed',
          );
          expect(point?.value).toBe(2);
        } finally {
          otel.unregister();
        }
      }
    } finally {
      prometheus.unregister();
    }
  });

  it('lists a queue while it is open and not once it is closed', async () => {
    const { createQueue } = await import('loopguard/queue');
    const other = createQueue({ url: postgresUrl(), name: `${name}-other` });
    expect([...liveQueues().values()]).toContain(`${name}-other`);
    await other.close();
    expect([...liveQueues().values()]).not.toContain(`${name}-other`);
  });
});
