// Issue 10's fault "the database restarted while jobs wait", on PostgreSQL (the Redis one is in
// bullmq-faults.test.ts). A PostgreSQL of this file's own (its own port and data directory, so
// that the run's shared server, postgres.global.ts, is not disturbed) is stopped while one job
// runs and six wait, and started again on the same data: every job completes once, its result
// reaches its caller once, and neither the app's process nor the worker's crashes or prints
// anything but the worker's JSON lines meanwhile.
import { fork, type ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedServer } from './embedded-postgres.js';
import { pgBossSupported, pgSuiteName } from './support.js';
import { cleanEnv, killWorkers, queueFixture, root, spawnWorker, type LogRecord } from './worker-helpers.js';

const suite = pgBossSupported ? describe : describe.skip;
const appFixture = fileURLToPath(new URL('../fixtures/queue/restart-app.mjs', import.meta.url));

type AppMessage = Record<string, unknown> & { type: string; ref?: number; id?: string };

/** The app's process (restart-app.mjs) and what it has said so far. */
interface App {
  child: ChildProcess;
  readonly messages: readonly AppMessage[];
  readonly stderr: string;
  waitFor(match: (message: AppMessage) => boolean, what: string): Promise<AppMessage>;
  ask(message: Record<string, unknown>, answer: string): Promise<AppMessage>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startApp(env: NodeJS.ProcessEnv): App {
  const child = fork(appFixture, [], { cwd: root, env, serialization: 'advanced', stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const messages: AppMessage[] = [];
  const waiters: Array<{ match: (message: AppMessage) => boolean; resolve: (message: AppMessage) => void }> = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.on('message', (message: AppMessage) => {
    messages.push(message);
    for (const waiter of [...waiters]) {
      if (waiter.match(message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  let ref = 0;
  const app: App = {
    child,
    messages,
    get stderr() {
      return stderr;
    },
    waitFor(match, what) {
      const seen = messages.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return Promise.race([
        new Promise<AppMessage>((resolve) => waiters.push({ match, resolve })),
        exited.then(({ code, signal }) => {
          throw new Error(`the app exited (code ${code}, signal ${signal}) before ${what}\nstderr: ${stderr}`);
        }),
      ]);
    },
    ask(message, answer) {
      const mine = ++ref;
      child.send({ ...message, ref: mine });
      return app.waitFor((reply) => reply.ref === mine, answer);
    },
    exited,
  };
  return app;
}

suite(pgSuiteName('PostgreSQL restarted while jobs wait'), () => {
  let postgres: EmbeddedServer;
  let url: string;
  let app: App | undefined;

  beforeAll(async () => {
    postgres = await startEmbeddedPostgres('pg-restart');
    url = postgres.url;
  }, 120_000);

  afterEach(() => {
    killWorkers();
    if (app !== undefined && app.child.exitCode === null && app.child.signalCode === null) app.child.kill('SIGKILL');
  });

  afterAll(async () => {
    await postgres?.dispose();
  }, 60_000);

  it('loses nothing: the running job and the six waiting complete once each, their results reach the caller once, nothing crashes', async () => {
    const name = `restart-${process.pid}`;
    // Beside the data directory, not in it: the server owns that.
    const releaseFile = `${postgres.dir}-release`;
    const env = cleanEnv({ QUEUE_URL: url, QUEUE_NAME: name });
    // One job at a time: the held job runs, the others wait in the queue through the outage.
    // --timeout 4000: pg-boss looks for expired leases every 2 s, so that a held job whose
    // result was dropped would run again within the test (at ~30 s) rather than pass unseen.
    const worker = spawnWorker(
      [queueFixture('reports.mjs'), queueFixture('held-reports.mjs'), '--queue', url, '--name', name, '--concurrency', '1', '--timeout', '4000'],
      env,
    );
    await worker.waitFor((record) => record.msg === 'worker started', 'the worker started');
    app = startApp(env);
    await app.waitFor((message) => message.type === 'ready', 'the app was ready');

    // Timeouts (leases) far beyond the outage (about a second here): no lease may run out while
    // the server is away, so any second run of a job would be the backend's doing.
    const options = { timeout: 60_000 };
    const held = await app.ask(
      { type: 'enqueue', fn: 'renderHeldReport', args: ['held', { releaseFile }], options: { timeout: 30_000 } },
      'the held job enqueued',
    );
    const heldId = held.id!;
    await worker.waitFor((record) => record.msg === 'job started' && record.id === heldId, 'the held job started');
    const waiting: string[] = [];
    for (let n = 0; n < 6; n += 1) {
      const sent = await app.ask({ type: 'enqueue', fn: 'renderReport', args: [`w${n}`, { pages: 2 }], options }, `job w${n} enqueued`);
      waiting.push(sent.id!);
    }

    await postgres.stop();
    // Both processes have met the outage: the app's result poller, and the worker (its poller
    // watching the running job for a cancel, its pool's dropped connections).
    const appSaw = await app.waitFor((message) => message.type === 'queue error' && message.operation === 'poll', 'the app saw the server gone');
    const workerSaw = await worker.waitFor((record) => record.msg === 'queue error', 'the worker saw the server gone');
    expect(appSaw.error).toMatchObject({ message: expect.any(String) });
    expect(workerSaw).toMatchObject({ level: 'warn', queue: name, backend: 'pg-boss', error: { message: expect.any(String) } });
    // Sending while it is away is refused to the caller, who may try again later.
    const refused = await app.ask({ type: 'enqueue', fn: 'renderReport', args: ['refused', {}], options }, 'an enqueue during the outage answered');
    expect(refused.type).toBe('refused');

    // The held job finishes while the server is away: its worker cannot store the result yet.
    await writeFile(releaseFile, '');
    await worker.waitFor((record) => record.msg === 'job settled' && record.id === heldId && record.outcome === 'completed', 'the held job finished');
    await worker.waitFor((record) => record.msg === 'queue error' && record.operation === 'settle', 'the worker failed to store the held result');

    await postgres.start();
    const after = await app.ask({ type: 'enqueue', fn: 'renderReport', args: ['after', { pages: 1 }], options }, 'an enqueue after the restart');
    expect(after.type).toBe('enqueued');
    const ids = [heldId, ...waiting, after.id!];
    const results = await Promise.all(ids.map((id) => app!.waitFor((message) => (message.type === 'result' || message.type === 'failed') && message.id === id, `job ${id}'s result`)));

    expect(results.map((message) => message.type)).toEqual(Array(8).fill('result'));
    expect(results[0]!.value).toEqual({ id: 'held', pages: new Map([[1, 'held/page-1']]), thread: String(worker.child.pid) });
    results.slice(1, 7).forEach((message, n) => expect(message.value).toMatchObject({ id: `w${n}`, pages: new Map([[1, `w${n}/page-1`], [2, `w${n}/page-2`]]) }));
    expect(results[7]!.value).toMatchObject({ id: 'after' });
    // Each caller's result came once.
    const delivered = app.messages.filter((message) => message.type === 'result' || message.type === 'failed');
    expect(delivered.map((message) => message.id).sort()).toEqual([...ids].sort());
    // Each job ran once: one attempt on the server, one start and one settle on the worker.
    const { statuses } = await app.ask({ type: 'status', ids }, 'the statuses');
    expect(statuses).toEqual(ids.map((id) => ({ id, state: 'completed', attempts: 1 })));
    const count = (msg: string, id: string) => worker.records.filter((record) => record.msg === msg && record.id === id).length;
    expect(ids.map((id) => [count('job started', id), count('job settled', id)])).toEqual(ids.map(() => [1, 1]));

    // Neither process crashed, and neither printed anything it did not mean to.
    expect(worker.child.exitCode).toBeNull();
    const workerLines = worker.stderr.split('\n').filter((line) => line !== '');
    expect(workerLines.length).toBe(worker.records.length);
    // Warnings only for what the worker retried; the monitor's lines (`kind`) say how its own loop fared, not an error.
    expect(worker.records.filter((record: LogRecord) => record.kind === undefined && record.level !== 'info' && record.msg !== 'queue error')).toEqual([]);
    expect(worker.records.filter((record: LogRecord) => record.level === 'error')).toEqual([]);
    await app.ask({ type: 'close' }, 'the app closed').catch(() => undefined);
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.stderr).toBe('');
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    await rm(releaseFile, { force: true });
  }, 120_000);
});
