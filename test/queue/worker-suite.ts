// The worker against a real server: worker processes spawned as users run them
// (`dist/cli.js worker …`), jobs sent by this process through the backend interface. Shared by
// worker-redis.test.ts and worker-postgres.test.ts; each test uses a queue of its own.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { QueueBackend } from '../../src/queue/backend.js';
import { openTestBackend, outcome, send } from './worker-backend.js';
import { cleanEnv, killWorkers, queueFixture, root, spawnWorker, type LogRecord, type WorkerProcess } from './worker-helpers.js';

export interface ServerHandle {
  url: string;
  stop(): Promise<void>;
}

const reports = queueFixture('reports.mjs');
const heldReports = queueFixture('held-reports.mjs');
const lookups = queueFixture('lookups.mjs');
let counter = 0;

export function workerSuite(title: string, start: () => Promise<ServerHandle>): void {
  describe(title, () => {
    let server: ServerHandle;
    const backends: QueueBackend[] = [];

    beforeAll(async () => {
      server = await start();
    }, 120_000);
    afterEach(async () => {
      killWorkers();
      await Promise.all(backends.splice(0).map((backend) => backend.close().catch(() => {})));
    });
    afterAll(async () => {
      await server?.stop();
    }, 60_000);

    async function queue(name: string): Promise<{ name: string; backend: QueueBackend }> {
      const unique = `${name}-${process.pid}-${++counter}`;
      const backend = await openTestBackend(server.url, unique);
      backends.push(backend);
      return { name: unique, backend };
    }

    function worker(name: string, flags: string[] = [], env: Record<string, string> = {}): WorkerProcess {
      return spawnWorker([reports, '--queue', server.url, '--name', name, ...flags], cleanEnv(env));
    }

    const startedJob = (id: string) => (record: LogRecord) => record.msg === 'job started' && record.id === id;
    const settledJob = (id: string) => (record: LogRecord) => record.msg === 'job settled' && record.id === id;
    const ready = (record: LogRecord) => record.msg === 'worker started';

    it('runs a marked function and delivers its result, Map, Date and BigInt intact; its thread blocks, the worker loop does not', async () => {
      const { name, backend } = await queue('result');
      const one = worker(name, [], { LOOPGUARD_THRESHOLD: '300' });
      expect(await one.waitFor(ready, 'the worker started')).toMatchObject({
        level: 'info',
        queue: name,
        functions: expect.arrayContaining(['renderReport', 'failReport']),
        concurrency: 1,
        threads: 1,
      });
      // 2.5 s in the job's thread: eight times the monitor's threshold, had it been the loop.
      const id = await send(backend, 'renderReport', ['7', { ms: 2500, pages: 2 }], { timeout: 20_000 });
      const done = await outcome(backend, id);
      expect(done.snapshot).toMatchObject({ state: 'completed', attempts: 1 });
      expect(done.value).toEqual({
        id: '7',
        pages: new Map([
          [1, '7/page-1'],
          [2, '7/page-2'],
        ]),
        renderedAt: new Date(Date.UTC(2026, 0, 2)),
        bytes: 2n ** 70n,
        thread: String(one.child.pid),
      });
      const settled = await one.waitFor(settledJob(id));
      expect(settled).toMatchObject({ fn: 'renderReport', attempt: 1, outcome: 'completed', queue: name });
      expect(settled.ms).toBeGreaterThanOrEqual(2400);
      expect(one.records.find(startedJob(id))).toMatchObject({ level: 'info', fn: 'renderReport', attempt: 1 });
      // The block was the pool thread's: the monitor watches the worker's own loop, which stayed
      // free while the job ran (loading the queue's client at start-up may block it, before).
      const jobStart = one.records.find(startedJob(id))!.time as number;
      const blocks = one.records.filter((record) => (record.kind === 'block' || record.kind === 'hang') && (record.startedAt as number) >= jobStart);
      expect(blocks.map((record) => record.msg)).toEqual([]);
    }, 60_000);

    it('functions marked with { queue } and called as usual: results, 60 at once, and a custom error as thrown', async () => {
      const name = `marked-${process.pid}-${++counter}`;
      // What the app's module reads at import, as the worker's copy of it does.
      process.env.QUEUE_URL = server.url;
      process.env.QUEUE_NAME = name;
      const tasks = (await import(queueFixture('report-tasks.mjs'))) as {
        queue: { close(): Promise<void> };
        renderReport(id: string, options?: { ms?: number; pages?: number }): Promise<{ id: string; pages: Map<number, string>; renderedAt: Date; bytes: bigint; pid: number }>;
        failReport(id: string): Promise<never>;
      };
      try {
        const one = spawnWorker(
          [queueFixture('report-tasks.mjs'), '--queue', server.url, '--name', name, '--concurrency', '4', '--threads', '2'],
          cleanEnv({ QUEUE_URL: server.url, QUEUE_NAME: name }),
        );
        await one.waitFor(ready, 'the worker started');
        const report = await tasks.renderReport('7', { pages: 2 });
        expect(report).toEqual({
          id: '7',
          pages: new Map([
            [1, '7/page-1'],
            [2, '7/page-2'],
          ]),
          renderedAt: new Date(0),
          bytes: 2n ** 70n,
          pid: one.child.pid,
        });
        const many = await Promise.all(Array.from({ length: 60 }, (_, n) => tasks.renderReport(`m${n}`, { pages: 1 })));
        expect(many.map((each) => each.id)).toEqual(Array.from({ length: 60 }, (_, n) => `m${n}`));
        const error = await tasks.failReport('9').catch((thrown: unknown) => thrown);
        expect(error).toBeInstanceOf(Error);
        expect(error).toMatchObject({ name: 'ReportError', message: 'report 9 has no data', code: 'E_REPORT', details: { id: '9' } });
      } finally {
        await tasks.queue.close();
      }
    }, 90_000);

    it('startWorker() inside a program: no signal listener, the job\'s own-loop work attributed { job, id }, nothing left open after stop()', async () => {
      const name = `embedded-${process.pid}-${++counter}`;
      const program = spawn(process.execPath, [queueFixture('embedded.mjs')], {
        cwd: root,
        env: cleanEnv({ QUEUE_URL: server.url, QUEUE_NAME: name }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      program.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      program.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      // It must end by itself: a handle left open by the worker would keep it running.
      const timer = setTimeout(() => program.kill('SIGKILL'), 30_000);
      const [code, signal] = (await once(program, 'close')) as [number | null, NodeJS.Signals | null];
      clearTimeout(timer);
      expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
      const report = JSON.parse(stdout) as {
        id: string;
        result: string;
        blocks: Array<{ context: Record<string, unknown> | null; duration: number }>;
        before: object;
        during: object;
        after: object;
        stats: { active: number; completed: number; functions: string[] };
        records: Array<[string, string | null]>;
      };
      expect(report.result).toBe('e1');
      expect(report.during).toEqual(report.before);
      expect(report.after).toEqual(report.before);
      expect(report.stats).toEqual({ active: 0, completed: 1, functions: expect.arrayContaining(['renderReport', 'failReport']) });
      expect(report.records).toEqual([
        ['worker started', null],
        ['job started', null],
        ['job settled', 'completed'],
        ['worker stopping', null],
        ['worker stopped', null],
      ]);
      const attributed = report.blocks.filter((block) => block.context?.job === 'renderReport');
      expect(attributed).toHaveLength(1);
      expect(attributed[0]!.context).toEqual({ job: 'renderReport', id: report.id });
      expect(attributed[0]!.duration).toBeGreaterThanOrEqual(500);
    }, 60_000);

    it('a job for a function the worker does not know fails at once, not retried, with a coded error naming it', async () => {
      const { name, backend } = await queue('unknown');
      const one = worker(name);
      await one.waitFor(ready);
      const id = await send(backend, 'renderInvoice', ['9'], { retries: 3 });
      const done = await outcome(backend, id);
      expect(done.snapshot).toMatchObject({ state: 'failed', attempts: 1 });
      expect(done.error).toMatchObject({ name: 'UnknownJobFunctionError', code: 'ERR_LOOPGUARD_UNKNOWN_FUNCTION', function: 'renderInvoice' });
      expect(done.error!.message).toMatch(/^no function "renderInvoice" on this worker of queue ".*" \(it runs (renderReport, failReport|failReport, renderReport)\)/);
      expect(await one.waitFor(settledJob(id))).toMatchObject({ outcome: 'rejected', error: { code: 'ERR_LOOPGUARD_UNKNOWN_FUNCTION' } });
    }, 60_000);

    it('a job over its timeout fails with the timeout error; one that throws uses up its retries and fails with its error', async () => {
      const { name, backend } = await queue('faults');
      const one = worker(name, ['--concurrency', '2']);
      await one.waitFor(ready);
      const slow = await send(backend, 'renderReport', ['slow', { ms: 20_000 }], { timeout: 1000 });
      const failing = await send(backend, 'failReport', ['empty'], { retries: 2, retryDelay: 500 });
      const [timedOut, failed] = await Promise.all([outcome(backend, slow), outcome(backend, failing)]);
      expect(timedOut.snapshot).toMatchObject({ state: 'failed', attempts: 1 });
      expect(timedOut.error).toMatchObject({ code: 'ERR_LOOPGUARD_TASK_TIMEOUT', message: 'task timed out after 1000 ms' });
      expect(failed.snapshot).toMatchObject({ state: 'failed', attempts: 3 });
      expect(failed.error).toMatchObject({ name: 'ReportError', code: 'E_REPORT', message: 'report empty has no data', details: { id: 'empty' } });
      const attempts = one.records.filter(settledJob(failing));
      expect(attempts.map((record) => [record.attempt, record.outcome])).toEqual([
        [1, 'failed'],
        [2, 'failed'],
        [3, 'failed'],
      ]);
      expect(one.records.find(settledJob(slow))).toMatchObject({ outcome: 'timeout', error: { code: 'ERR_LOOPGUARD_TASK_TIMEOUT' } });
    }, 60_000);

    it('a job reports progress from its thread: status() and jobStatus() show the latest while it runs, and keep it after', async () => {
      const name = `progress-${process.pid}-${++counter}`;
      const releaseFile = join(tmpdir(), `loopguard-${name}-release`);
      const { createQueue } = await import('loopguard/queue');
      const { renderTrackedReport } = (await import(heldReports)) as {
        renderTrackedReport: (id: string, options: { pages: number; releaseFile: string }) => Promise<{ id: string; pages: number }>;
      };
      const jobs = createQueue({ url: server.url, name });
      const { default: express } = await import('express');
      const { jobStatus } = await import('loopguard/express');
      const app = express();
      app.get('/jobs/:id', jobStatus(jobs));
      const http = createServer(app);
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
      try {
        const one = spawnWorker([reports, heldReports, '--queue', server.url, '--name', name], cleanEnv());
        await one.waitFor(ready, 'the worker started');
        // 200 reports in a tight loop, then the job holds until released: the last one must be what is kept.
        const { id } = await jobs.enqueue(renderTrackedReport, ['t1', { pages: 200, releaseFile }], { timeout: 60_000 });
        await one.waitFor(startedJob(id));
        const last = { page: 200, of: 200 };
        const deadline = Date.now() + 20_000;
        let status = await jobs.status(id);
        // Compared as values: PostgreSQL's jsonb gives the keys back in an order of its own.
        while (!isDeepStrictEqual(status.progress, last) && Date.now() < deadline) {
          await delay(50); // polling the server's state: the write happens in another process
          status = await jobs.status(id);
        }
        expect(status).toMatchObject({ state: 'active', progress: last });
        const served = await fetch(`${base}/jobs/${id}`);
        expect(served.status).toBe(200);
        expect(await served.json()).toMatchObject({ id, function: 'renderTrackedReport', state: 'active', progress: last });
        await writeFile(releaseFile, '');
        expect(await jobs.result(id, { timeout: 20_000 })).toEqual({ id: 't1', pages: 200 });
        expect(await jobs.status(id)).toMatchObject({ state: 'completed', progress: last });
        expect(await (await fetch(`${base}/jobs/${id}`)).json()).toMatchObject({ state: 'completed', progress: last, result: { id: 't1', pages: 200 } });
      } finally {
        await new Promise<void>((resolve) => http.close(() => resolve()));
        await jobs.close();
        await rm(releaseFile, { force: true });
      }
    }, 60_000);

    it('SIGTERM while a job runs: the job finishes, its result is delivered, the worker exits 0', async () => {
      const { name, backend } = await queue('drain');
      const one = worker(name);
      await one.waitFor(ready);
      const id = await send(backend, 'renderReport', ['drained', { ms: 1500 }]);
      await one.waitFor(startedJob(id));
      one.child.kill('SIGTERM');
      expect(await one.exited).toEqual({ code: 0, signal: null });
      const done = await outcome(backend, id);
      expect(done.snapshot).toMatchObject({ state: 'completed', attempts: 1 });
      expect(done.value).toMatchObject({ id: 'drained', thread: String(one.child.pid) });
      const order = one.records.map((record) => record.msg);
      expect(order.indexOf('worker stopping')).toBeLessThan(order.indexOf('job settled'));
      expect(one.records.find((record) => record.msg === 'worker stopping')).toMatchObject({ signal: 'SIGTERM', active: 1 });
      expect(one.records.at(-1)).toMatchObject({ msg: 'worker stopped', completed: 1 });
    }, 60_000);

    it('SIGTERM with a job longer than --drain-timeout: exits 0 at the drain timeout, and the job runs again elsewhere', async () => {
      const { name, backend } = await queue('give-up');
      const first = worker(name, ['--drain-timeout', '300']);
      await first.waitFor(ready);
      const id = await send(backend, 'renderReport', ['long', { ms: 4000 }], { timeout: 10_000 });
      await first.waitFor(startedJob(id));
      const stoppedAt = Date.now();
      first.child.kill('SIGTERM');
      expect(await first.exited).toEqual({ code: 0, signal: null });
      // Far less than the job's 4 s: it was given back, not waited for.
      expect(Date.now() - stoppedAt).toBeLessThan(3000);
      const second = worker(name);
      const done = await outcome(backend, id);
      expect(done.snapshot.state).toBe('completed');
      expect(done.value).toMatchObject({ id: 'long', thread: String(second.child.pid) });
    }, 60_000);

    it('SIGINT drains too, and a second SIGINT ends the draining worker at once, by the signal', async () => {
      const { name, backend } = await queue('twice');
      const one = worker(name);
      await one.waitFor(ready);
      const id = await send(backend, 'renderReport', ['twice', { ms: 20_000 }], { timeout: 30_000 });
      await one.waitFor(startedJob(id));
      one.child.kill('SIGINT');
      expect(await one.waitFor((record) => record.msg === 'worker stopping')).toMatchObject({ signal: 'SIGINT', active: 1 });
      one.child.kill('SIGINT');
      expect(await one.exited).toEqual({ code: null, signal: 'SIGINT' });
    }, 60_000);

    it('--threads 0: jobs run inline on the worker\'s loop; results, a custom error, a timeout and a cancel settle as in a thread; SIGTERM drains', async () => {
      const { name, backend } = await queue('inline');
      const one = spawnWorker([lookups, '--queue', server.url, '--name', name, '--concurrency', '3', '--threads', '0'], cleanEnv());
      expect(await one.waitFor(ready, 'the worker started')).toMatchObject({ concurrency: 3, threads: 0 });
      // Waits far past its 1 s timeout: abandoned at the timeout, its slot free for the next job.
      const slow = await send(backend, 'lookUpReport', ['slow', { ms: 60_000 }], { timeout: 1000 });
      const ok = await send(backend, 'lookUpReport', ['7', { ms: 20 }]);
      const missing = await send(backend, 'lookUpMissing', ['9'], { retries: 1, retryDelay: 200 });
      const [timedOut, done, failed] = await Promise.all([outcome(backend, slow), outcome(backend, ok), outcome(backend, missing)]);
      expect(done.snapshot).toMatchObject({ state: 'completed', attempts: 1 });
      // mainThread: it ran on the worker process's own thread, no pool's.
      expect(done.value).toEqual({ id: '7', total: 42n, loadedAt: new Date(Date.UTC(2026, 0, 3)), mainThread: true, pid: one.child.pid });
      expect(failed.snapshot).toMatchObject({ state: 'failed', attempts: 2 });
      expect(failed.error).toBeInstanceOf(Error);
      expect(failed.error).toMatchObject({ name: 'ReportError', code: 'E_REPORT', message: 'report 9 has no data', details: { id: '9' } });
      expect(timedOut.snapshot).toMatchObject({ state: 'failed', attempts: 1 });
      expect(timedOut.error).toMatchObject({ code: 'ERR_LOOPGUARD_TASK_TIMEOUT', message: 'task timed out after 1000 ms' });
      expect(one.records.find(settledJob(slow))).toMatchObject({ outcome: 'timeout', error: { code: 'ERR_LOOPGUARD_TASK_TIMEOUT' } });
      expect(one.records.filter(settledJob(missing)).map((record) => record.outcome)).toEqual(['failed', 'failed']);

      // A cancel aborts the running job's signal: the attempt ends at once, as a thread's would.
      const held = await send(backend, 'lookUpReport', ['held', { ms: 60_000 }], { timeout: 120_000 });
      await one.waitFor(startedJob(held));
      expect(await backend.cancel(held)).toBe(true);
      expect((await outcome(backend, held)).snapshot.state).toBe('cancelled');
      expect(await one.waitFor(settledJob(held), 'the cancelled job settled')).toMatchObject({ outcome: 'aborted' });

      // Two abandoned 60 s waits are still pending on this loop: the drain waits for the active job only.
      const drained = await send(backend, 'lookUpReport', ['drained', { ms: 1500 }]);
      await one.waitFor(startedJob(drained));
      one.child.kill('SIGTERM');
      expect(await one.exited).toEqual({ code: 0, signal: null });
      const last = await outcome(backend, drained);
      expect(last.snapshot).toMatchObject({ state: 'completed', attempts: 1 });
      expect(last.value).toMatchObject({ id: 'drained', mainThread: true });
      expect(one.records.find((record) => record.msg === 'worker stopping')).toMatchObject({ signal: 'SIGTERM', active: 1 });
      expect(one.records.at(-1)).toMatchObject({ msg: 'worker stopped', completed: 2, failed: 2, timeout: 1, aborted: 1 });
      expect(one.records.filter((record) => record.msg === 'inline job blocked the loop')).toEqual([]);
    }, 90_000);

    it('--threads 0 and a job that blocks the loop: the monitor reports the block as the job\'s, and the worker says to run it with threads >= 1', async () => {
      const { name, backend } = await queue('inline-block');
      const one = spawnWorker([lookups, '--queue', server.url, '--name', name, '--threads', '0'], cleanEnv({ LOOPGUARD_THRESHOLD: '300' }));
      await one.waitFor(ready, 'the worker started');
      // 2 s of the worker's own loop: over six times the threshold, and longer than a BullMQ
      // job's first lease (1 s), which it then loses: the risk the warning is about.
      const id = await send(backend, 'crunchReport', ['c1', { ms: 2000 }], { timeout: 20_000 });
      expect(await one.waitFor(settledJob(id))).toMatchObject({ outcome: 'completed' });
      const warning = await one.waitFor((record) => record.msg === 'inline job blocked the loop', 'the inline block warning');
      expect(warning).toMatchObject({ level: 'warn', queue: name, fn: 'crunchReport', id });
      expect(warning.ms).toBeGreaterThanOrEqual(1500);
      expect(warning.hint).toMatch(/no job's lease is renewed.*run crunchReport on a worker with threads >= 1/);
      const block = await one.waitFor((record) => record.kind === 'block' && (record.context as { id?: string } | undefined)?.id === id, "the monitor's report");
      expect(block.context).toEqual({ job: 'crunchReport', id });
      expect(block.duration).toBeGreaterThanOrEqual(1500);
    }, 60_000);

    it('two workers, one SIGKILLed mid-job: all 8 jobs complete, the killed one on the other worker', async () => {
      const { name, backend } = await queue('killed');
      // --timeout: the queue's default job timeout, which sizes how often pg-boss looks for dead workers' jobs.
      const doomed = worker(name, ['--concurrency', '2', '--timeout', '2000']);
      const survivor = worker(name, ['--concurrency', '2', '--timeout', '2000']);
      await Promise.all([doomed.waitFor(ready), survivor.waitFor(ready)]);
      const ids: string[] = [];
      for (let n = 0; n < 8; n += 1) {
        // A 2 s timeout is also the lease: a job whose worker died runs again within ~2 × 2 s,
        // with the default retries (0): a lost lease is not one of them.
        ids.push(await send(backend, 'renderReport', [`r${n}`, { ms: 1200 }], { timeout: 2000 }));
      }
      const victim = await doomed.waitFor((record) => record.msg === 'job started', 'a job started on the doomed worker');
      doomed.child.kill('SIGKILL');
      expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' });
      const done = await Promise.all(ids.map((id) => outcome(backend, id)));
      expect(done.map((result) => result.snapshot.state)).toEqual(Array(8).fill('completed'));
      done.forEach((result, n) => expect(result.value).toMatchObject({ id: `r${n}` }));
      const again = done[ids.indexOf(victim.id!)]!;
      expect(again.value).toMatchObject({ thread: String(survivor.child.pid) });
      expect(again.snapshot.attempts).toBe(2);
    }, 90_000);

    it('1,000 jobs over 3 workers: every caller gets its own result, each job completed exactly once', async () => {
      const name = `thousand-${process.pid}-${++counter}`;
      const { createQueue } = await import('loopguard/queue');
      const { renderReport } = (await import(reports)) as { renderReport: (id: string, options: { pages: number }) => Promise<{ id: string }> };
      const jobs = createQueue({ url: server.url, name });
      try {
        const workers = [0, 1, 2].map(() => worker(name, ['--concurrency', '4', '--threads', '2']));
        await Promise.all(workers.map((one) => one.waitFor(ready)));
        const results = await Promise.all(Array.from({ length: 1000 }, (_, n) => jobs.run(renderReport, [`n${n}`, { pages: 1 }])));
        expect(results.map((result) => result.id)).toEqual(Array.from({ length: 1000 }, (_, n) => `n${n}`));
        // A job's result can reach its caller before its worker's 'job settled' line reaches
        // this process: the logs are counted once every worker has drained and closed them.
        for (const one of workers) one.child.kill('SIGTERM');
        expect(await Promise.all(workers.map((one) => one.exited))).toEqual(Array(3).fill({ code: 0, signal: null }));
        const completions = new Map<string, number>();
        for (const one of workers) {
          for (const record of one.records) {
            if (record.msg === 'job settled' && record.outcome === 'completed') completions.set(record.id!, (completions.get(record.id!) ?? 0) + 1);
          }
        }
        expect(completions.size).toBe(1000);
        expect([...completions.values()].every((count) => count === 1)).toBe(true);
        // Each worker took a share (not a proof of balance: only that all three were working).
        for (const one of workers) expect(one.records.some((record) => record.outcome === 'completed')).toBe(true);
      } finally {
        await jobs.close();
      }
    }, 180_000);
  });
}
