/**
 * The app's side of the job queue against a real Redis (BullMQ 6), with the in-test consumer
 * standing in for the worker process (./consumer.ts): the issue's "done means" on Redis, and
 * the adapters' enqueue()/jobStatus() routes end to end on the real queue.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'loopguard/queue';
import { startConsumer, type Consumer } from './consumer.js';
import { redisAvailability, startRedisServer, type RedisServer } from './redis-server.js';

type Tasks = typeof import('../fixtures/queue/tasks.mjs');
const redis = redisAvailability();
const suite = redis.run ? describe : describe.skip;

suite(`queue on Redis (BullMQ)${redis.run ? '' : ` (${redis.skipReason})`}`, () => {
  let server: RedisServer;
  let tasks: Tasks;
  let queue: Queue;
  let consumer: Consumer;
  const lines = [
    { sku: 'desk', cents: 24_900, quantity: 2 },
    { sku: 'lamp', cents: 3_450, quantity: 3 },
    { sku: 'desk', cents: 24_900, quantity: 1 },
  ];

  beforeAll(async () => {
    server = await startRedisServer();
    process.env.QUEUE_URL = server.url;
    process.env.QUEUE_NAME = `invoices-${process.pid}`;
    tasks = await import('../fixtures/queue/tasks.mjs');
    ({ queue } = await import('../fixtures/queue/queue.mjs'));
    consumer = await startConsumer(server.url, process.env.QUEUE_NAME, 8);
  }, 30_000);

  afterAll(async () => {
    await consumer?.stop();
    await queue?.close();
    await server?.stop();
  });

  it('runs a marked function called as usual on a worker, with Date, Map, Set and BigInt intact', async () => {
    const invoice = await tasks.renderInvoice('c-42', lines);
    expect(invoice.issuedAt).toBeInstanceOf(Date);
    expect(invoice.issuedAt.toISOString()).toBe('2026-12-01T09:30:00.000Z');
    expect(invoice.customer.since).toBeInstanceOf(Date);
    expect(invoice.totals).toBeInstanceOf(Map);
    expect(invoice.totals.get('desk')).toBe(74_700n);
    expect(invoice.grandTotalCents).toBe(85_050n);
    expect(invoice.tags).toEqual(new Set(['net-30']));
  });

  it('gets 60 concurrent jobs all right', async () => {
    const calls = Array.from({ length: 60 }, (_, i) => tasks.renderInvoice(`c-${i}`, [{ sku: `s${i}`, cents: i + 1, quantity: i + 2 }]));
    const invoices = await Promise.all(calls);
    invoices.forEach((invoice, i) => {
      expect(invoice.customer.id).toBe(`c-${i}`);
      expect(invoice.grandTotalCents).toBe(BigInt((i + 1) * (i + 2)));
    });
  });

  it('rejects with the custom error the function threw: its name, message, code and own properties', async () => {
    const error = await tasks.chargeInvoice('inv-7', 250_000n).catch((e: unknown) => e as Record<string, unknown> & Error);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('InvoiceRejectedError');
    expect(error.message).toBe("invoice inv-7 was rejected: over Customer c-inv-7's credit limit");
    expect(error.code).toBe('E_INVOICE_REJECTED');
    expect(error.invoiceId).toBe('inv-7');
    expect(error.retryAt).toEqual(new Date(Date.UTC(2030, 0, 1)));
  });

  it('answers enqueue() with an id at once, and status() and result() give the result', async () => {
    const started = performance.now();
    const job = await queue.enqueue(tasks.renderInvoice, ['c-9', lines]);
    expect(performance.now() - started).toBeLessThan(500);
    expect(job).toEqual({ id: expect.any(String), state: 'queued' });
    const invoice = await queue.result<Awaited<ReturnType<Tasks['renderInvoice']>>>(job.id, { timeout: 20_000 });
    expect(invoice.grandTotalCents).toBe(85_050n);
    const status = await queue.status(job.id);
    expect(status).toMatchObject({ id: job.id, function: 'renderInvoice', state: 'completed', attempts: 1 });
    expect((status.result as typeof invoice).totals.get('desk')).toBe(74_700n);
  });

  it('aborts the running job when it is cancelled, and result() rejects with JobCancelledError', async () => {
    const { id } = await queue.enqueue(tasks.buildLedger, ['2026-10', 60_000]);
    const job = await consumer.startOf(id);
    expect(await queue.cancel(id)).toBe(true);
    await expect(queue.result(id)).rejects.toMatchObject({ code: 'ERR_LOOPGUARD_JOB_CANCELLED' });
    expect(job.signal.aborted).toBe(true);
    expect((await queue.status(id)).state).toBe('cancelled');
  });

  it('serves POST /reports (202) and GET /reports/:id from the adapters routes on the real queue', async () => {
    const { default: express } = await import('express');
    const { enqueue, jobStatus } = await import('loopguard/express');
    const { renderMonthlyReport } = await import('../fixtures/queue/report-routes.mjs');
    const app = express();
    app.use(express.json());
    // No queue given: enqueue() finds the one renderMonthlyReport was marked with.
    app.post('/reports', enqueue(renderMonthlyReport));
    app.get('/reports/:id', jobStatus(queue));
    const http: Server = createServer(app);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    try {
      const posted = await fetch(`${base}/reports`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-tenant': 'acme' },
        body: '{"month":"2026-11"}',
      });
      expect(posted.status).toBe(202);
      const { id, state, statusUrl } = (await posted.json()) as { id: string; state: string; statusUrl: string };
      expect(state).toBe('queued');
      expect(statusUrl).toBe(`/reports/${id}`);
      expect(await queue.result(id, { timeout: 20_000 })).toEqual({ month: '2026-11', tenant: 'acme', total: '2080' });
      const status = await fetch(`${base}${statusUrl}`);
      expect(status.status).toBe(200);
      expect(await status.json()).toMatchObject({
        id,
        function: 'renderMonthlyReport',
        state: 'completed',
        attempts: 1,
        result: { month: '2026-11', tenant: 'acme', total: '2080' },
      });
      expect((await fetch(`${base}/reports/999999999`)).status).toBe(404);
    } finally {
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});
