/**
 * The app's side of the job queue against a real server, with a minimal in-test consumer
 * standing in for the worker process (./consumer.ts): the "done means" and the rest of
 * API §7's contract, and the adapters' enqueue()/jobStatus() routes end to end. Shared by
 * client-pg.test.ts (pg-boss 12) and client-redis.test.ts (BullMQ 6), as worker-suite.ts is.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionNotPortableError, LoopguardError, TaskTimeoutError } from 'loopguard';
import {
  createQueue,
  JobCancelledError,
  JobNotFoundError,
  JobWaitTimeoutError,
  PayloadTooLargeError,
  QueueClosedError,
  type Queue,
} from 'loopguard/queue';
import { openBackend } from '../../src/queue/backends/open.js';
import { startConsumer, type Consumer } from './consumer.js';

type Tasks = typeof import('../fixtures/queue/tasks.mjs');
const fixture = (file: string) => fileURLToPath(new URL(`../fixtures/queue/${file}`, import.meta.url));
const unique = (label: string) => `${label}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

export interface ClientServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * The suite titled `title` against the server `start` gives (stopped after it); with `skip`,
 * every test is reported skipped with that reason in the suite's name.
 */
export function clientSuite(title: string, start: () => Promise<ClientServer>, skip?: string): void {
  (skip === undefined ? describe : describe.skip)(skip === undefined ? title : `${title} (${skip})`, () => {
    let server: ClientServer | undefined;
    let url: string;
    let tasks: Tasks;
    let queue: Queue;
    let consumer: Consumer;
    const lines = [
      { sku: 'desk', cents: 24_900, quantity: 2 },
      { sku: 'lamp', cents: 3_450, quantity: 3 },
      { sku: 'desk', cents: 24_900, quantity: 1 },
    ];

    beforeAll(async () => {
      server = await start();
      url = server.url;
      process.env.QUEUE_URL = url;
      process.env.QUEUE_NAME = unique('invoices');
      tasks = await import('../fixtures/queue/tasks.mjs');
      ({ queue } = await import('../fixtures/queue/queue.mjs'));
      consumer = await startConsumer(url, process.env.QUEUE_NAME, 8);
    }, 60_000);

    afterAll(async () => {
      await consumer?.stop();
      await queue?.close();
      await server?.stop();
    }, 60_000);

    it('runs a marked function called as usual on a worker, with Date, Map, Set and BigInt intact', async () => {
      const invoice = await tasks.renderInvoice('c-42', lines);
      expect(invoice.issuedAt).toBeInstanceOf(Date);
      expect(invoice.issuedAt.toISOString()).toBe('2026-12-01T09:30:00.000Z');
      expect(invoice.customer.since).toBeInstanceOf(Date);
      expect(invoice.totals).toBeInstanceOf(Map);
      expect(invoice.totals.get('desk')).toBe(74_700n);
      expect(invoice.totals.get('lamp')).toBe(10_350n);
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
      expect(error).toMatchObject({
        name: 'InvoiceRejectedError',
        message: "invoice inv-7 was rejected: over Customer c-inv-7's credit limit",
        code: 'E_INVOICE_REJECTED',
        invoiceId: 'inv-7',
        retryAt: new Date(Date.UTC(2030, 0, 1)),
      });
      expect(String(error.stack)).toContain('chargeInvoice');
    });

    it('answers enqueue() with an id at once, and status() and result() give the result', async () => {
      const started = performance.now();
      const job = await queue.enqueue(tasks.renderInvoice, ['c-9', lines]);
      const elapsed = performance.now() - started;
      expect(job).toEqual({ id: expect.any(String), state: 'queued' });
      expect(elapsed).toBeLessThan(500);
      const invoice = await queue.result<Awaited<ReturnType<Tasks['renderInvoice']>>>(job.id, { timeout: 20_000 });
      expect(invoice.grandTotalCents).toBe(85_050n);
      const status = await queue.status(job.id);
      expect(status).toMatchObject({ id: job.id, function: 'renderInvoice', state: 'completed', attempts: 1 });
      expect((status.result as typeof invoice).totals.get('desk')).toBe(74_700n);
      expect(status.createdAt).toBeInstanceOf(Date);
      expect(status.startedAt!.getTime()).toBeGreaterThanOrEqual(status.createdAt.getTime());
      expect(status.settledAt!.getTime()).toBeGreaterThanOrEqual(status.startedAt!.getTime());
    });

    it('gives a failed job its decoded error in status()', async () => {
      const { id } = await queue.enqueue(tasks.chargeInvoice, ['inv-8', 999_999n]);
      await expect(queue.result(id)).rejects.toMatchObject({ name: 'InvoiceRejectedError', code: 'E_INVOICE_REJECTED' });
      const status = await queue.status(id);
      expect(status.state).toBe('failed');
      expect(status.error).toMatchObject({ name: 'InvoiceRejectedError', invoiceId: 'inv-8' });
    });

    it('deduplicates by key: a second enqueue while the first job waits returns its id', async () => {
      const key = unique('ledger-key');
      const first = await queue.enqueue(tasks.buildLedger, ['2026-11', 0], { key, delay: 60_000 });
      const second = await queue.enqueue(tasks.buildLedger, ['2026-11', 0], { key, delay: 60_000 });
      const other = await queue.enqueue(tasks.buildLedger, ['2026-11', 0], { key: `${key}-other`, delay: 60_000 });
      expect(second.id).toBe(first.id);
      expect(other.id).not.toBe(first.id);
      await Promise.all([queue.cancel(first.id), queue.cancel(other.id)]);
    });

    it('holds a delayed job back for its delay', async () => {
      const { id } = await queue.enqueue(tasks.buildLedger, ['2026-10', 0], { delay: 1_500 });
      await queue.result(id, { timeout: 20_000 });
      const status = await queue.status(id);
      // The server's own clock, both ends: a wide margin under the 1.5 s asked for.
      expect(status.startedAt!.getTime() - status.createdAt.getTime()).toBeGreaterThanOrEqual(1_000);
    });

    it('rejects result() with JobWaitTimeoutError after its timeout, and the job goes on', async () => {
      const { id } = await queue.enqueue(tasks.buildLedger, ['2026-09', 1_500]);
      const started = performance.now();
      const error = await queue.result(id, { timeout: 200 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(JobWaitTimeoutError);
      expect((error as JobWaitTimeoutError).code).toBe('ERR_LOOPGUARD_JOB_WAIT_TIMEOUT');
      expect(performance.now() - started).toBeLessThan(1_400);
      await expect(queue.result(id, { timeout: 20_000 })).resolves.toBe('ledger 2026-09');
    });

    it('fails an attempt over its timeout with TaskTimeoutError, and aborts its signal', async () => {
      const { id } = await queue.enqueue(tasks.buildLedger, ['2026-06', 60_000], { timeout: 500, retries: 0 });
      const job = await consumer.startOf(id);
      const error = await queue.result(id, { timeout: 20_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TaskTimeoutError);
      expect((error as TaskTimeoutError).code).toBe('ERR_LOOPGUARD_TASK_TIMEOUT');
      expect(job.signal.aborted).toBe(true);
      expect(await queue.status(id)).toMatchObject({ state: 'failed', attempts: 1 });
    });

    it('retries a failed attempt after its retryDelay, and completes', async () => {
      const started = performance.now();
      const { id } = await queue.enqueue(tasks.syncLedger, ['2026-05'], { retries: 2, retryDelay: 1_000 });
      await expect(queue.result(id, { timeout: 20_000 })).resolves.toEqual({ month: '2026-05', attempt: 2 });
      expect(performance.now() - started).toBeGreaterThan(900);
      expect(await queue.status(id)).toMatchObject({ state: 'completed', attempts: 2 });
    });

    it('aborts the running job\'s signal when it is cancelled, and result() rejects with JobCancelledError', async () => {
      const { id } = await queue.enqueue(tasks.buildLedger, ['2026-08', 60_000]);
      const job = await consumer.startOf(id);
      const waiting = queue.result(id).catch((e: unknown) => e);
      const aborted = once(job.signal, 'abort');
      expect(await queue.cancel(id)).toBe(true);
      await aborted;
      expect(job.signal.reason).toBeInstanceOf(JobCancelledError);
      const error = await waiting;
      expect(error).toBeInstanceOf(JobCancelledError);
      expect((error as JobCancelledError).code).toBe('ERR_LOOPGUARD_JOB_CANCELLED');
      expect((await queue.status(id)).state).toBe('cancelled');
      expect(await queue.cancel(id)).toBe(false);
    });

    it('shows the progress a running job reported in status()', async () => {
      const { id } = await queue.enqueue(tasks.buildLedger, ['2026-04', 60_000]);
      const job = await consumer.startOf(id);
      await job.progress({ accounts: 120, of: 400 });
      const status = await queue.status(id);
      expect(status).toMatchObject({ state: 'active', attempts: 1, progress: { accounts: 120, of: 400 } });
      expect(status.startedAt).toBeInstanceOf(Date);
      await queue.cancel(id);
    });

    it('counts the queue\'s jobs by state on the server', async () => {
      const counting = createQueue({ url, name: unique('counting') });
      try {
        const first = await counting.enqueue(tasks.buildLedger, ['a', 0], { delay: 60_000 });
        await counting.enqueue(tasks.buildLedger, ['b', 0], { delay: 60_000 });
        await counting.cancel(first.id);
        const backend = await openBackend(url, counting.name, { pollInterval: 50, timeout: 60_000 });
        expect(await backend.counts()).toEqual({ queued: 1, active: 0, completed: 0, failed: 0, cancelled: 1 });
        await backend.close();
        await expect(backend.counts()).rejects.toBeInstanceOf(QueueClosedError);
      } finally {
        await counting.close();
      }
    });

    it('refuses a payload over maxPayload at enqueue, saying to pass a reference', async () => {
      const small = createQueue({ url, name: unique('small'), maxPayload: 1_024 });
      try {
        const error = await small.enqueue(tasks.renderInvoice, ['c-1', [{ sku: 'x'.repeat(2_000), cents: 1, quantity: 1 }]]).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(PayloadTooLargeError);
        expect((error as PayloadTooLargeError).code).toBe('ERR_LOOPGUARD_PAYLOAD_TOO_LARGE');
        expect((error as Error).message).toMatch(/renderInvoice's arguments: \d+ bytes serialised, over the queue's maxPayload of 1024 bytes/);
        expect((error as Error).message).toContain('pass a reference');
      } finally {
        await small.close();
      }
    });

    it('refuses a function that is not marked with threaded()', async () => {
      const error = await queue.enqueue(tasks.formatCents as never, [100] as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FunctionNotPortableError);
      expect((error as Error).message).toContain('formatCents is not marked with threaded()');
    });

    it('refuses arguments that cannot be serialised, naming the path', async () => {
      const error = await queue.enqueue(tasks.renderInvoice, ['c-1', [{ sku: 'a', cents: 1, quantity: 1, onPaid() {} }]] as never).catch((e: unknown) => e);
      expect((error as Error).name).toBe('DataCloneError');
      expect((error as Error).message).toContain('args[1][0].onPaid (a function) could not be serialised for the queue');
    });

    it('rejects status() and result() for an unknown id with JobNotFoundError', async () => {
      await expect(queue.status('00000000-0000-4000-8000-000000000000')).rejects.toBeInstanceOf(JobNotFoundError);
      await expect(queue.status('not-a-job')).rejects.toBeInstanceOf(JobNotFoundError);
      await expect(queue.result('00000000-0000-4000-8000-000000000000')).rejects.toBeInstanceOf(JobNotFoundError);
    });

    it('counts what this process saw per function in stats()', () => {
      const stats = queue.stats();
      expect(stats.renderInvoice!.completed).toBeGreaterThanOrEqual(62);
      expect(stats.chargeInvoice!.failed).toBeGreaterThanOrEqual(2);
      expect(stats.renderInvoice!.runMs.p50).toBeGreaterThan(0);
      expect(stats.renderInvoice!.waitMs.p99).toBeGreaterThanOrEqual(stats.renderInvoice!.waitMs.p50);
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

    describe('with the worker stopped while jobs are sent', () => {
      let name: string;
      let waiting: Queue;
      beforeAll(() => {
        name = unique('waiting');
        waiting = createQueue({ url, name, pollInterval: 50 });
      });
      afterAll(() => waiting.close());

      it('runs the higher priority first with concurrency 1', async () => {
        const low = await waiting.enqueue(tasks.buildLedger, ['low', 0], { priority: 1 });
        const high = await waiting.enqueue(tasks.buildLedger, ['high', 0], { priority: 10 });
        const mid = await waiting.enqueue(tasks.buildLedger, ['mid', 0], { priority: 5 });
        const one = await startConsumer(url, name, 1);
        try {
          await Promise.all([low, high, mid].map((job) => waiting.result(job.id, { timeout: 20_000 })));
          expect([...one.jobs.keys()]).toEqual([high.id, mid.id, low.id]);
        } finally {
          await one.stop();
        }
      });

      it('never runs a job cancelled while queued, by cancel() or by run()\'s signal', async () => {
        const cancelled = await waiting.enqueue(tasks.buildLedger, ['cancelled', 0]);
        expect(await waiting.cancel(cancelled.id)).toBe(true);
        const controller = new AbortController();
        const running = waiting.run(tasks.buildLedger, ['aborted', 0], { signal: controller.signal });
        controller.abort(new Error('the user left'));
        await expect(running).rejects.toThrow('the user left');
        const after = await waiting.enqueue(tasks.buildLedger, ['after', 0]);
        const one = await startConsumer(url, name, 1);
        try {
          await waiting.result(after.id, { timeout: 20_000 });
          await expect(waiting.result(cancelled.id)).rejects.toBeInstanceOf(JobCancelledError);
          expect(one.started).toEqual(['buildLedger']);
          expect([...one.jobs.keys()]).toEqual([after.id]);
        } finally {
          await one.stop();
        }
      });
    });

    it('rejects pending result() calls with QueueClosedError on close(), which every caller may await', async () => {
      const closing = createQueue({ url, name: unique('closing'), pollInterval: 50 });
      const { id } = await closing.enqueue(tasks.buildLedger, ['never', 0], { delay: 60_000 });
      const pending = [closing.result(id).catch((e: unknown) => e), closing.result(id).catch((e: unknown) => e)];
      await closing.status(id); // connected, and both calls are waiting on the server
      await Promise.all([closing.close(), closing.close()]);
      for (const error of await Promise.all(pending)) {
        expect(error).toBeInstanceOf(QueueClosedError);
        expect(error).toBeInstanceOf(LoopguardError);
      }
      await expect(closing.enqueue(tasks.buildLedger, ['late', 0])).rejects.toBeInstanceOf(QueueClosedError);
    });

    it('leaves nothing open after close(): the app exits on its own', async () => {
      const child = fork(fixture('exit-after-close.mjs'), {
        env: { ...process.env, QUEUE_URL: url, QUEUE_NAME: unique('exit') },
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      });
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => (out += chunk));
      let err = '';
      child.stderr!.on('data', (chunk: Buffer) => (err += chunk));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
      clearTimeout(timer);
      expect({ code, signal, err }).toEqual({ code: 0, signal: null, err: '' });
      expect(JSON.parse(out)).toMatchObject({ state: 'queued' });
    });
  });
}
