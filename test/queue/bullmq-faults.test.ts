// What only the BullMQ backend has to prove: its mapping onto BullMQ's numbers, Redis going
// away, a lease lost while the worker lives, and the harness's skip rule.
import { spawn } from 'node:child_process';
import diagnostics_channel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JobAttemptFailure, type ActiveJob, type QueueBackend, type SendOptions, type WorkHandle } from '../../src/queue/backend.js';
import { bullmqPriority, openBullMQ, RETENTION } from '../../src/queue/backends/bullmq.js';
import { leaseFor } from '../../src/queue/backends/bullmq-work.js';
import { decodeError } from '../../src/queue/payload.js';
import { REDIS_URL_ENV } from './bullmq-target.js';
import { redisAvailability, startRedisServer, type RedisServer } from './redis-server.js';

const CONTRACT_CHILD = fileURLToPath(new URL('./fixtures/contract-child.ts', import.meta.url));
const BULLMQ_TARGET = fileURLToPath(new URL('./bullmq-target.ts', import.meta.url));

const defaults: SendOptions = { retries: 0, retryDelay: 100, timeout: 5000, priority: 0, delay: 0 };
const redis = redisAvailability();
let queueNumber = 0;

describe('BullMQ mapping', () => {
  it('turns higher-first priorities into BullMQ numbers (lower first), all prioritized, clamped', () => {
    const priorities = [-5_000_000, -10, -1, 0, 1, 10, 5_000_000];
    const mapped = priorities.map(bullmqPriority);
    expect([...mapped].sort((a, b) => b - a)).toEqual(mapped);
    expect(Math.min(...mapped)).toBe(1);
    expect(Math.max(...mapped)).toBe(2_097_151);
    expect(bullmqPriority(1)).toBeLessThan(bullmqPriority(0));
  });

  it('leases a job for half its timeout, within 1 s and 30 s', () => {
    expect(leaseFor(200)).toBe(1000);
    expect(leaseFor(5000)).toBe(2500);
    expect(leaseFor(3_600_000)).toBe(30_000);
  });
});

describe('the Redis test harness', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('reports the tests skipped with the install command when redis-server is absent', () => {
    delete process.env.LOOPGUARD_REQUIRE_REDIS;
    const absent = redisAvailability(['/nonexistent/redis-server']);
    expect(absent.run).toBe(false);
    expect(absent.skipReason).toBe('skipped: needs redis-server — apt-get install -y redis-server');
  });

  it('runs them (so that they fail) when CI requires Redis and it is absent', () => {
    process.env.LOOPGUARD_REQUIRE_REDIS = '1';
    expect(redisAvailability(['/nonexistent/redis-server']).run).toBe(true);
  });
});

describe.skipIf(!redis.run)(`BullMQ against a real Redis${redis.run ? '' : ` (${redis.skipReason})`}`, () => {
  let server: RedisServer;
  const opened: QueueBackend[] = [];
  const handles: WorkHandle[] = [];

  beforeAll(async () => {
    // Append-only file on: a restart keeps what was queued, as a production Redis would.
    server = await startRedisServer({ persistent: true });
  }, 30_000);

  afterEach(async () => {
    await Promise.allSettled(handles.splice(0).map((handle) => handle.stop(0)));
    await Promise.allSettled(opened.splice(0).map((backend) => backend.close()));
  });

  afterAll(async () => {
    await server?.stop();
  });

  const open = async (name = `faults-${++queueNumber}-${Date.now()}`) => {
    const backend = await openBullMQ(server.url, name, { pollInterval: 250, timeout: 1000 });
    opened.push(backend);
    return backend;
  };

  it('connect() rejects with the server error when nothing listens, and publishes the errors it retries', async () => {
    const published: Array<{ queue: string; backend: string; error: unknown }> = [];
    const onMessage = (message: unknown) => published.push(message as (typeof published)[number]);
    diagnostics_channel.subscribe('loopguard:queue:error', onMessage);
    try {
      const backend = await openBullMQ('redis://127.0.0.1:1', 'nowhere', { pollInterval: 250, timeout: 1000 });
      opened.push(backend);
      await expect(backend.connect()).rejects.toThrow(/ECONNREFUSED/);
      expect(published[0]).toMatchObject({ queue: 'nowhere', backend: 'bullmq', error: expect.objectContaining({ code: 'ECONNREFUSED' }) });
    } finally {
      diagnostics_channel.unsubscribe('loopguard:queue:error', onMessage);
    }
  });

  it('loses nothing queued when Redis restarts before a worker takes it', async () => {
    const backend = await open();
    const ids: string[] = [];
    for (let index = 0; index < 20; index++) ids.push(await backend.send({ fn: 'keep', args: String(index) }, defaults));
    await server.restart();
    await work(backend, 4, async (job) => `kept:${job.args}`);
    const results = await Promise.all(ids.map((id) => backend.settled(id, AbortSignal.timeout(25_000))));
    expect(results.map((job) => job.output)).toEqual(ids.map((_, index) => `kept:${index}`));
  }, 40_000);

  it('finishes the jobs that were running when Redis restarted', async () => {
    const backend = await open();
    const started = new Set<string>();
    let allStarted!: () => void;
    const running = new Promise<void>((resolve) => (allStarted = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    await work(backend, 3, async (job) => {
      started.add(job.id);
      if (started.size === 3) allStarted();
      await released;
      return `survived:${job.args}`;
    });
    const ids = [];
    for (let index = 0; index < 3; index++) ids.push(await backend.send({ fn: 'through', args: String(index) }, { ...defaults, timeout: 2000, retries: 2 }));
    await running;
    await server.restart();
    release();
    const results = await Promise.all(ids.map((id) => backend.settled(id, AbortSignal.timeout(25_000))));
    expect(results.map((job) => job.state)).toEqual(['completed', 'completed', 'completed']);
  }, 40_000);

  it('aborts the attempt when its lease is lost while the worker lives', async () => {
    const name = `lease-${++queueNumber}-${Date.now()}`;
    const backend = await open(name);
    let resolveJob!: (job: ActiveJob) => void;
    const running = new Promise<ActiveJob>((resolve) => (resolveJob = resolve));
    await work(backend, 1, async (job) => {
      resolveJob(job);
      await new Promise((resolve) => job.signal.addEventListener('abort', resolve, { once: true }));
      throw new JobAttemptFailure('gave up', 'encoded');
    });
    const id = await backend.send({ fn: 'leased', args: '' }, { ...defaults, timeout: 1000, retries: 1 });
    const job = await running;
    // As if another worker had taken the job over: the lock is no longer this worker's.
    const client = new Redis(server.url);
    await client.set(`bull:${name}:${id}:lock`, 'someone-else', 'PX', 60_000);
    client.disconnect();
    const aborted = await new Promise<unknown>((resolve) => {
      if (job.signal.aborted) resolve(job.signal.reason);
      job.signal.addEventListener('abort', () => resolve(job.signal.reason), { once: true });
    });
    expect(String(aborted)).toMatch(/lost its lease/);
  });

  it('stores, for a job failed by an error that is not a JobAttemptFailure, an output that decodes to it', async () => {
    const backend = await open();
    let calls = 0;
    await work(backend, 1, async () => {
      calls++;
      throw new Error('not a JobAttemptFailure');
    });
    const id = await backend.send({ fn: 'plain', args: '' }, defaults);
    const failed = await backend.settled(id, AbortSignal.timeout(25_000));
    expect(failed.state).toBe('failed');
    expect(decodeError(failed.output!).message).toBe('not a JobAttemptFailure');
    expect(calls).toBe(1);
  });

  it('delivers 1,000 jobs over 3 workers, each run once and each result to its caller once', async () => {
    const name = `many-${++queueNumber}-${Date.now()}`;
    const app = await open(name);
    const runs = new Map<string, number>();
    for (let index = 0; index < 3; index++) {
      const worker = await open(name);
      await work(worker, 4, async (job) => {
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
        return `r${job.args}`;
      });
    }
    const ids = await Promise.all(Array.from({ length: 1000 }, (_, index) => app.send({ fn: 'many', args: String(index) }, defaults)));
    const results = await Promise.all(ids.map((id) => app.settled(id, AbortSignal.timeout(60_000))));
    expect(new Set(ids).size).toBe(1000);
    expect(results.map((job) => job.output)).toEqual(ids.map((_, index) => `r${index}`));
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    expect(runs.size).toBe(1000);
    expect(await app.counts()).toMatchObject({ queued: 0, active: 0, completed: 1000 });
  }, 90_000);

  it('fails a job cancelled while its worker is dead as cancelled when the next worker takes it, without running it', async () => {
    const name = `cancel-dead-${++queueNumber}-${Date.now()}`;
    const backend = await open(name);
    // A worker that takes the job and dies with it: the cancel's nudge reaches nobody.
    const vanishing = spawn(process.execPath, ['--import', 'tsx', CONTRACT_CHILD, BULLMQ_TARGET, 'vanish', name], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, [REDIS_URL_ENV]: server.url },
    });
    const lines: string[] = [];
    let stderr = '';
    vanishing.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const said = (type: string) =>
      new Promise<void>((resolve, reject) => {
        const look = () => lines.some((line) => line.includes(`"type":"${type}"`));
        const onData = (chunk: Buffer) => {
          lines.push(...chunk.toString().split('\n'));
          if (look()) {
            vanishing.stdout.off('data', onData);
            resolve();
          }
        };
        if (look()) return resolve();
        vanishing.stdout.on('data', onData);
        vanishing.once('exit', () => reject(new Error(`the vanish child exited before "${type}": ${stderr}`)));
      });
    await said('ready');
    const id = await backend.send({ fn: 'doomed', args: '' }, { ...defaults, timeout: 1000, retries: 2, retryDelay: 0 });
    await said('started');
    vanishing.kill('SIGKILL');
    await once(vanishing, 'exit');
    expect(await backend.cancel(id)).toBe(true);
    // Its lease runs out, the job goes back to the queue, and this worker takes it.
    let calls = 0;
    await work(backend, 1, async () => {
      calls++;
      return 'should not run';
    });
    const done = await backend.settled(id, AbortSignal.timeout(25_000));
    expect(done.state).toBe('cancelled');
    expect(calls).toBe(0);
    expect(await backend.counts()).toMatchObject({ active: 0, completed: 0, failed: 0, cancelled: 1 });
  });

  it('reads a job cancelled while it ran as cancelled even when its result comes after the cancel (the cancel wins)', async () => {
    const backend = await open();
    let resolveJob!: (job: ActiveJob) => void;
    const running = new Promise<ActiveJob>((resolve) => (resolveJob = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let abortedAtReturn: boolean | undefined;
    await work(backend, 1, async (job) => {
      if (job.fn === 'warm-up') return 'ok';
      resolveJob(job);
      await released;
      abortedAtReturn = job.signal.aborted;
      return 'a result too late';
    });
    // The event stream is read from here on: the job below is resolved from its events, unless
    // the cancel's event came before its 'completed' one.
    await backend.settled(await backend.send({ fn: 'warm-up', args: '' }, defaults), AbortSignal.timeout(25_000));
    const id = await backend.send({ fn: 'late', args: '' }, defaults);
    await running;
    // Cut the worker's cancel subscription: the nudge is lost, the attempt runs to its result.
    const client = new Redis(server.url);
    try {
      await client.client('KILL', 'TYPE', 'pubsub');
    } finally {
      client.disconnect();
    }
    expect(await backend.cancel(id)).toBe(true);
    release();
    const done = await backend.settled(id, AbortSignal.timeout(25_000));
    expect(abortedAtReturn).toBe(false);
    expect(done.state).toBe('cancelled');
    expect(done.output).toBeUndefined();
    expect(await backend.get(id)).toMatchObject({ state: 'cancelled' });
    // The warm-up job completed; the late one is cancelled, not completed.
    expect(await backend.counts()).toMatchObject({ active: 0, completed: 1, failed: 0, cancelled: 1 });
    expect(await backend.cancel(id)).toBe(false);
  });

  it('settled() resolves a job sent while the events are read with the snapshot get() reads', async () => {
    const backend = await open();
    await work(backend, 1, async (job) => {
      if (job.args === 'progress') await job.progress({ step: 1 });
      return `done:${job.args}`;
    });
    await backend.settled(await backend.send({ fn: 'warm-up', args: '' }, defaults), AbortSignal.timeout(25_000));
    for (const args of ['plain', 'progress']) {
      const id = await backend.send({ fn: 'watched', args }, defaults);
      const done = await backend.settled(id, AbortSignal.timeout(25_000));
      const read = (await backend.get(id))!;
      expect(done).toMatchObject({ id, fn: 'watched', state: 'completed', attempts: 1, output: `done:${args}` });
      expect({ ...done, startedAt: undefined, settledAt: undefined }).toEqual({ ...read, startedAt: undefined, settledAt: undefined });
      expect(done.startedAt!.getTime()).toBe(read.startedAt!.getTime());
      // The attempt's clock when it returned, and BullMQ's just after: within a wide margin.
      expect(Math.abs(done.settledAt!.getTime() - read.settledAt!.getTime())).toBeLessThan(1000);
    }
  });

  it('settled() finds a job that settled before the call, after its events were read', async () => {
    const backend = await open();
    await work(backend, 1, async (job) => `done:${job.args}`);
    // The first settled() call starts reading the event stream; later sends are watched from it.
    const first = await backend.send({ fn: 'first', args: '1' }, defaults);
    await backend.settled(first, AbortSignal.timeout(25_000));
    const id = await backend.send({ fn: 'early', args: '2' }, defaults);
    while ((await backend.get(id))?.state !== 'completed') await new Promise((resolve) => setTimeout(resolve, 20));
    // Its 'completed' event was read while nobody waited: this call must look at the job, not
    // wait for an event that came already (the slow sweep would find it only after a second).
    const started = Date.now();
    expect(await backend.settled(id, AbortSignal.timeout(25_000))).toMatchObject({ state: 'completed', output: 'done:2' });
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('keeps settled jobs and cancel records for 7 days, not for ever', async () => {
    const name = `retention-${++queueNumber}-${Date.now()}`;
    const backend = await open(name);
    const done = await backend.send({ fn: 'kept', args: '' }, defaults);
    const cancelled = await backend.send({ fn: 'dropped', args: '' }, { ...defaults, delay: 60_000 });
    await backend.cancel(cancelled);
    await work(backend, 1, async () => 'ok');
    await backend.settled(done, AbortSignal.timeout(25_000));
    const client = new Redis(server.url);
    try {
      const opts = JSON.parse((await client.hget(`bull:${name}:${done}`, 'opts'))!) as Record<string, unknown>;
      expect(opts).toMatchObject({ removeOnComplete: { age: RETENTION }, removeOnFail: { age: RETENTION } });
      const ttl = await client.ttl(`bull:${name}:lg:cancelled:${cancelled}`);
      expect(ttl).toBeGreaterThan(RETENTION - 60);
      expect(ttl).toBeLessThanOrEqual(RETENTION);
    } finally {
      client.disconnect();
    }
    expect(await backend.get(cancelled)).toMatchObject({ state: 'cancelled' });
  });

  it('stops and closes within seconds while Redis is down, and leaves nothing open', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fixtures/redis-down-child.ts', import.meta.url))], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timer);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout.trim()) as { ms: number; settled: string };
    // 500 ms of drain, then each step waits for Redis at most a second before it drops its connection.
    expect(report.ms).toBeLessThan(10_000);
    expect(report.settled).toBe('ERR_LOOPGUARD_QUEUE_CLOSED');
  }, 30_000);

  async function work(backend: QueueBackend, concurrency: number, handler: (job: ActiveJob) => Promise<string>) {
    const handle = await backend.work({ concurrency }, handler);
    handles.push(handle);
    return handle;
  }
});
