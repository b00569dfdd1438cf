// The tests every QueueBackend must pass, against its real server. A backend's test file calls
// describeBackendContract() with a target module (see CONTRACT-READY.md in the coordination
// notes, or test/queue/bullmq-target.ts for the shape): the tests import it, and so does a child
// process for the tests that need a worker to vanish or a process to exit by itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  JobAttemptFailure,
  type ActiveJob,
  type JobSnapshot,
  type QueueBackend,
  type SendOptions,
  type WorkHandle,
} from '../../src/queue/backend.js';
import { decodeError } from '../../src/queue/payload.js';

export interface ContractTarget {
  /**
   * Absolute path of a module exporting `makeBackend(name: string): Promise<QueueBackend>`: a
   * backend, opened the way createQueue opens it, on the queue `name` of the server that
   * `setup()` started (it reads the server's address from the environment, so that a child
   * process that imports the module finds the same server).
   */
  module: string;
  /** Start the server and set the environment the module reads; resolves with the teardown. */
  setup(): Promise<() => Promise<void>>;
  /** Skip every test, with this text in its name (e.g. "skipped: needs redis-server — …"). */
  skip?: string;
}

const CHILD = fileURLToPath(new URL('./fixtures/contract-child.ts', import.meta.url));

const defaults: SendOptions = { retries: 0, retryDelay: 100, timeout: 5000, priority: 0, delay: 0 };

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Resolves when `predicate` holds, checked on every call of the returned `poke`. */
function until(description: string, timeoutMs = 20_000) {
  const gate = deferred();
  const timer = setTimeout(() => gate.resolve(), timeoutMs);
  return {
    done: () => {
      clearTimeout(timer);
      gate.resolve();
    },
    wait: async (check: () => boolean) => {
      await gate.promise;
      if (!check()) throw new Error(`${description} did not happen within ${timeoutMs} ms`);
    },
  };
}

interface ChildWorker {
  child: ChildProcess;
  next(type: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

function startChild(module: string, mode: string, name: string): ChildWorker {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, module, mode, name], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: process.env,
  });
  const messages: Array<Record<string, unknown>> = [];
  const listeners = new Set<() => void>();
  let stderr = '';
  let buffer = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline;
    while ((newline = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (line.trim()) messages.push(JSON.parse(line) as Record<string, unknown>);
    }
    for (const listener of [...listeners]) listener();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    next(type, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const look = () => {
          const index = messages.findIndex((message) => message['type'] === type);
          if (index === -1) return false;
          cleanup();
          resolve(messages.splice(index, 1)[0]!);
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no "${type}" from the ${mode} child within ${timeoutMs} ms; stderr:\n${stderr}`));
        }, timeoutMs);
        const onExit = () => {
          if (!look()) {
            cleanup();
            reject(new Error(`the ${mode} child exited before "${type}"; stderr:\n${stderr}`));
          }
        };
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(listener);
          child.off('exit', onExit);
        };
        const listener = () => void look();
        if (look()) return;
        listeners.add(listener);
        child.once('exit', onExit);
      });
    },
  };
}

export function describeBackendContract(label: string, target: ContractTarget): void {
  const suite = target.skip ? describe.skip : describe;
  suite(`${label} backend contract${target.skip ? ` (${target.skip})` : ''}`, () => {
    let makeBackend: (name: string) => Promise<QueueBackend>;
    let teardown: (() => Promise<void>) | undefined;
    const opened: QueueBackend[] = [];
    const handles: WorkHandle[] = [];
    const children: ChildWorker[] = [];

    beforeAll(async () => {
      teardown = await target.setup();
      ({ makeBackend } = (await import(pathToFileURL(target.module).href)) as { makeBackend: typeof makeBackend });
    }, 60_000);

    afterEach(async () => {
      for (const { child } of children.splice(0)) child.kill('SIGKILL');
      await Promise.allSettled(handles.splice(0).map((handle) => handle.stop(0)));
      await Promise.allSettled(opened.splice(0).map((backend) => backend.close()));
    });

    afterAll(async () => {
      await teardown?.();
    }, 60_000);

    const freshName = () => `contract-${randomUUID().slice(0, 8)}`;
    const open = async (name = freshName()) => {
      const backend = await makeBackend(name);
      opened.push(backend);
      return backend;
    };
    const work = async (backend: QueueBackend, concurrency: number, handler: (job: ActiveJob) => Promise<string>) => {
      const handle = await backend.work({ concurrency }, handler);
      handles.push(handle);
      return handle;
    };
    const settled = (backend: QueueBackend, id: string) => backend.settled(id, AbortSignal.timeout(25_000));
    const child = (mode: string, name: string) => {
      const started = startChild(target.module, mode, name);
      children.push(started);
      return started;
    };

    it('stores opaque text and hands it back: args to the worker, the result as output', async () => {
      const backend = await open();
      const args = 'AAECAwT/+/=\u00e9\u{1F600} "quotes" \\ and {"json": false}';
      const id = await backend.send({ fn: 'renderReport', args }, defaults);
      const queued = await backend.get(id);
      expect(queued).toMatchObject({ id, fn: 'renderReport', state: 'queued', attempts: 0 });
      expect(queued?.output).toBeUndefined();
      expect(queued?.createdAt).toBeInstanceOf(Date);

      const seen: ActiveJob[] = [];
      await work(backend, 1, async (job) => {
        seen.push(job);
        await job.progress({ step: 2, of: 3 });
        return `result:${job.args}`;
      });
      const done = await settled(backend, id);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ id, fn: 'renderReport', args, attempt: 1, timeout: defaults.timeout });
      expect(seen[0]!.signal.aborted).toBe(false);
      expect(done).toMatchObject({ id, fn: 'renderReport', state: 'completed', attempts: 1, output: `result:${args}` });
      expect(done.progress).toEqual({ step: 2, of: 3 });
      expect(done.startedAt!.getTime()).toBeGreaterThanOrEqual(done.createdAt.getTime());
      expect(done.settledAt!.getTime()).toBeGreaterThanOrEqual(done.startedAt!.getTime());
      expect(await backend.get(id)).toMatchObject({ state: 'completed', output: `result:${args}` });
    });

    it('answers undefined for an id it does not hold', async () => {
      const backend = await open();
      expect(await backend.get('999999999')).toBeUndefined();
      expect(await backend.cancel('999999999')).toBe(false);
    });

    it('retries with a doubling backoff, then fails with the last attempt output', async () => {
      const backend = await open();
      const starts: number[] = [];
      await work(backend, 1, async (job) => {
        starts.push(Date.now());
        throw new JobAttemptFailure(`attempt ${job.attempt} failed`, `error-of-attempt-${job.attempt}`);
      });
      const id = await backend.send({ fn: 'flaky', args: '' }, { ...defaults, retries: 2, retryDelay: 300 });
      const failed = await settled(backend, id);
      expect(failed).toMatchObject({ state: 'failed', attempts: 3, output: 'error-of-attempt-3' });
      expect(starts).toHaveLength(3);
      // 300 ms, then 600 ms; wide margins below, a doubling still shows.
      expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(250);
      expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(500);
    });

    it('fails at once, whatever its retries, when the handler says retry: false', async () => {
      const backend = await open();
      let calls = 0;
      await work(backend, 1, async () => {
        calls++;
        throw new JobAttemptFailure('unknown function', 'encoded-unknown', false);
      });
      const id = await backend.send({ fn: 'nobody', args: '' }, { ...defaults, retries: 3, retryDelay: 50 });
      expect(await settled(backend, id)).toMatchObject({ state: 'failed', attempts: 1, output: 'encoded-unknown' });
      expect(calls).toBe(1);
    });

    it('deduplicates by key while the job is queued or active, and not after it settled', async () => {
      const backend = await open();
      const first = await backend.send({ fn: 'report', args: '1' }, { ...defaults, key: 'report-7' });
      expect(await backend.send({ fn: 'report', args: '2' }, { ...defaults, key: 'report-7' })).toBe(first);
      const running = deferred();
      const release = deferred();
      await work(backend, 1, async (job) => {
        running.resolve();
        await release.promise;
        return job.args;
      });
      await running.promise;
      expect(await backend.send({ fn: 'report', args: '3' }, { ...defaults, key: 'report-7' })).toBe(first);
      release.resolve();
      expect(await settled(backend, first)).toMatchObject({ state: 'completed', output: '1' });
      const later = await backend.send({ fn: 'report', args: '4' }, { ...defaults, key: 'report-7' });
      expect(later).not.toBe(first);
      expect(await settled(backend, later)).toMatchObject({ state: 'completed', output: '4' });
    });

    it('runs higher priority first (concurrency 1)', async () => {
      const backend = await open();
      const ids = [];
      for (const [args, priority] of [['low', -1], ['normal', 0], ['urgent', 10], ['high', 5]] as const) {
        ids.push(await backend.send({ fn: 'p', args }, { ...defaults, priority }));
      }
      const order: string[] = [];
      await work(backend, 1, async (job) => {
        order.push(job.args);
        return job.args;
      });
      await Promise.all(ids.map((id) => settled(backend, id)));
      expect(order).toEqual(['urgent', 'high', 'normal', 'low']);
    });

    it('does not start a delayed job before its delay', async () => {
      const backend = await open();
      let startedAt = 0;
      await work(backend, 1, async () => {
        startedAt = Date.now();
        return 'late';
      });
      const sentAt = Date.now();
      const id = await backend.send({ fn: 'later', args: '' }, { ...defaults, delay: 1500 });
      expect((await backend.get(id))?.state).toBe('queued');
      expect(await settled(backend, id)).toMatchObject({ state: 'completed' });
      expect(startedAt - sentAt).toBeGreaterThanOrEqual(1400);
    });

    it('cancels a queued job: it never runs and reads cancelled', async () => {
      const backend = await open();
      const id = await backend.send({ fn: 'doomed', args: 'x' }, defaults);
      expect(await backend.cancel(id)).toBe(true);
      expect(await backend.get(id)).toMatchObject({ id, fn: 'doomed', state: 'cancelled' });
      const ran: string[] = [];
      await work(backend, 1, async (job) => {
        ran.push(job.args);
        return job.args;
      });
      // A job sent after it settles once the worker has passed the place of the cancelled one.
      const after = await backend.send({ fn: 'sentinel', args: 'after' }, defaults);
      await settled(backend, after);
      expect(ran).toEqual(['after']);
      expect(await settled(backend, id)).toMatchObject({ state: 'cancelled' });
      expect(await backend.cancel(id)).toBe(false);
      expect(await backend.cancel(after)).toBe(false);
    });

    it('lets a key be used again once its job was cancelled', async () => {
      const backend = await open();
      const first = await backend.send({ fn: 'keyed', args: '1' }, { ...defaults, key: 'once' });
      expect(await backend.cancel(first)).toBe(true);
      const second = await backend.send({ fn: 'keyed', args: '2' }, { ...defaults, key: 'once' });
      expect(second).not.toBe(first);
      expect((await backend.get(second))?.state).toBe('queued');
    });

    it('cancels a running job: its signal aborts, it is not retried, it reads cancelled', async () => {
      const backend = await open();
      const running = deferred<ActiveJob>();
      let calls = 0;
      await work(backend, 1, async (job) => {
        calls++;
        running.resolve(job);
        await new Promise((resolve) => job.signal.addEventListener('abort', resolve, { once: true }));
        throw new JobAttemptFailure('aborted', 'encoded-abort');
      });
      const id = await backend.send({ fn: 'long', args: '' }, { ...defaults, retries: 3, retryDelay: 50 });
      const job = await running.promise;
      expect(await backend.cancel(id)).toBe(true);
      const done = await settled(backend, id);
      expect(job.signal.aborted).toBe(true);
      expect(done.state).toBe('cancelled');
      expect(calls).toBe(1);
    });

    it('settled() rejects with the signal reason when it aborts first', async () => {
      const backend = await open();
      const id = await backend.send({ fn: 'never-worked', args: '' }, defaults);
      const controller = new AbortController();
      const waiting = backend.settled(id, controller.signal);
      const reason = new Error('caller gave up');
      controller.abort(reason);
      await expect(waiting).rejects.toBe(reason);
    });

    it('runs a job again within about twice its timeout when its worker vanishes (SIGKILL), even with retries 0', async () => {
      const name = freshName();
      const backend = await open(name);
      const timeout = 2000;
      const vanishing = child('vanish', name);
      await vanishing.next('ready');
      // No retryDelay: pg-boss waits it (in whole seconds) before an expired job's next attempt
      // too, and what is timed here is the lease alone.
      const id = await backend.send({ fn: 'slow', args: '' }, { ...defaults, timeout, retries: 0, retryDelay: 0 });
      expect(await vanishing.next('started')).toMatchObject({ id, attempt: 1 });
      vanishing.child.kill('SIGKILL');
      await vanishing.exited;
      const killedAt = Date.now();
      let again = 0;
      await work(backend, 1, async (job) => {
        again = Date.now();
        return `attempt-${job.attempt}`;
      });
      const done = await settled(backend, id);
      expect(done).toMatchObject({ state: 'completed', attempts: 2, output: 'attempt-2' });
      expect(again - killedAt).toBeLessThan(2 * timeout + 1500);
    });

    it('fails a job with WorkerCrashedError, without running it, once it has lost its lease one time more than LEASE_LOSSES allows', async () => {
      const name = freshName();
      const backend = await open(name);
      const first = child('vanish', name);
      await first.next('ready');
      const id = await backend.send({ fn: 'slow', args: '' }, { ...defaults, timeout: 1000, retries: 0 });
      await first.next('started');
      first.child.kill('SIGKILL');
      await first.exited;
      // The second worker takes the job once the first one's lease has run out, and dies too.
      const second = child('vanish', name);
      await second.next('ready');
      expect(await second.next('started')).toMatchObject({ id, attempt: 2 });
      second.child.kill('SIGKILL');
      await second.exited;
      let calls = 0;
      await work(backend, 1, async () => {
        calls++;
        return 'should not run';
      });
      const failed = await settled(backend, id);
      expect(failed).toMatchObject({ state: 'failed', attempts: 2 });
      expect(decodeError(failed.output!)).toMatchObject({ name: 'WorkerCrashedError', code: 'ERR_LOOPGUARD_WORKER_CRASHED' });
      expect(calls).toBe(0);
    });

    it('never runs a job twice at once while its worker lives, for most of its timeout', async () => {
      const name = freshName();
      const one = await open(name);
      const two = await open(name);
      let starts = 0;
      const slow = async (job: ActiveJob) => {
        starts++;
        // Three quarters of its timeout, with a second idle worker watching for stalled jobs.
        await new Promise((resolve) => setTimeout(resolve, 0.75 * job.timeout));
        return 'once';
      };
      await work(one, 2, slow);
      await work(two, 2, slow);
      const id = await one.send({ fn: 'slow', args: '' }, { ...defaults, timeout: 4000 });
      expect(await settled(one, id)).toMatchObject({ state: 'completed', attempts: 1 });
      expect(starts).toBe(1);
    });

    it('ends an attempt at its timeout: its signal aborts and it fails with a TaskTimeoutError', async () => {
      const backend = await open();
      const running = deferred<ActiveJob>();
      await work(backend, 1, (job) => {
        running.resolve(job);
        return new Promise<string>(() => {});
      });
      const sentAt = Date.now();
      const id = await backend.send({ fn: 'endless', args: '' }, { ...defaults, timeout: 800 });
      const job = await running.promise;
      const failed = await settled(backend, id);
      expect(Date.now() - sentAt).toBeGreaterThanOrEqual(700);
      expect(job.signal.aborted).toBe(true);
      expect(failed).toMatchObject({ state: 'failed', attempts: 1 });
      expect(decodeError(failed.output!)).toMatchObject({ name: 'TaskTimeoutError', code: 'ERR_LOOPGUARD_TASK_TIMEOUT' });
    });

    it('stop(drain) lets the active job finish before it resolves', async () => {
      const backend = await open();
      const running = deferred();
      let finished = false;
      const handle = await work(backend, 1, async () => {
        running.resolve();
        await new Promise((resolve) => setTimeout(resolve, 500));
        finished = true;
        return 'drained';
      });
      const id = await backend.send({ fn: 'drain', args: '' }, defaults);
      await running.promise;
      await handle.stop(10_000);
      expect(finished).toBe(true);
      expect(await backend.get(id)).toMatchObject({ state: 'completed', output: 'drained' });
    });

    it('stop(drain) gives up a job still running after the drain, and another worker takes it', async () => {
      const name = freshName();
      const backend = await open(name);
      const running = deferred<ActiveJob>();
      const handle = await work(backend, 1, (job) => {
        running.resolve(job);
        return new Promise<string>(() => {});
      });
      const id = await backend.send({ fn: 'stuck', args: '' }, { ...defaults, timeout: 1000 });
      const stuck = await running.promise;
      const stopping = Date.now();
      await handle.stop(300);
      expect(Date.now() - stopping).toBeLessThan(5000);
      expect(stuck.signal.aborted).toBe(true);
      const other = await open(name);
      await work(other, 1, async (job) => `taken again, attempt ${job.attempt}`);
      expect(await settled(other, id)).toMatchObject({ state: 'completed' });
    });

    it('counts jobs by state', async () => {
      const backend = await open();
      const ok = await backend.send({ fn: 'ok', args: '' }, defaults);
      const bad = await backend.send({ fn: 'bad', args: '' }, defaults);
      const handle = await work(backend, 1, async (job) => {
        if (job.fn === 'bad') throw new JobAttemptFailure('bad', 'encoded-bad');
        return 'ok';
      });
      await Promise.all([settled(backend, ok), settled(backend, bad)]);
      await handle.stop(1000);
      await backend.send({ fn: 'waiting', args: '' }, defaults);
      const cancelled = await backend.send({ fn: 'cancelled', args: '' }, defaults);
      await backend.cancel(cancelled);
      expect(await backend.counts()).toEqual({ queued: 1, active: 0, completed: 1, failed: 1, cancelled: 1 });
    });

    it('close() rejects pending settled() calls with QueueClosedError', async () => {
      const backend = await makeBackend(freshName());
      const id = await backend.send({ fn: 'never', args: '' }, defaults);
      const waiting = expect(backend.settled(id, new AbortController().signal)).rejects.toMatchObject({
        code: 'ERR_LOOPGUARD_QUEUE_CLOSED',
      });
      await backend.close();
      await waiting;
    });

    it('close() leaves nothing open: a process that used every call exits by itself', async () => {
      const lifecycle = child('lifecycle', freshName());
      expect(await lifecycle.next('closed')).toMatchObject({ state: 'completed', output: 'done:lifecycle' });
      const timer = until('the lifecycle child exiting', 10_000);
      let code: number | null | undefined;
      void lifecycle.exited.then((exitCode) => {
        code = exitCode;
        timer.done();
      });
      await timer.wait(() => code !== undefined);
      expect(code).toBe(0);
    });
  });
}

export type { JobSnapshot };
