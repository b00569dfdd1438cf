import { describe, expect, it } from 'vitest';
import { createPool } from 'loopguard';
import { add, allocateForever, busy, exitNow } from '../fixtures/pool/functions.mjs';
import {
  chargeOverQuota,
  crashMidway,
  gate,
  holdUntilReleased,
  ledgerFor,
  priceOrder,
  release,
  renderForever,
  running,
} from '../fixtures/pool/ledger.mjs';
import { watchSettlements } from '../fixtures/pool/settlements.mjs';

describe('faults stay inside their task', () => {
  it('a worker calling process.exit fails its task with ERR_LOOPGUARD_WORKER_CRASHED, then the pool works', async () => {
    const pool = createPool({ maxThreads: 1 });
    await expect(pool.run(exitNow, [3])).rejects.toMatchObject({
      code: 'ERR_LOOPGUARD_WORKER_CRASHED',
      message: expect.stringContaining('exited with code 3') as unknown,
    });
    await expect(pool.run(add, [2, 2])).resolves.toBe(4);
    await pool.close();
  });

  it('tasks queued behind a crashing task on the same thread still succeed', async () => {
    const pool = createPool({ maxThreads: 1 });
    // Warm up with tiny tasks so the pool pipelines several tasks per thread.
    await Promise.all(Array.from({ length: 200 }, (_, i) => pool.run(add, [i, 0])));
    const settled = await Promise.allSettled([
      pool.run(add, [1, 1]),
      pool.run(exitNow, [1]),
      pool.run(add, [2, 2]),
      pool.run(add, [3, 3]),
    ]);
    expect(settled.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(settled.filter((result) => result.status === 'fulfilled').map((result) => result.value)).toEqual([2, 4, 6]);
    await pool.close();
  });

  it('a module that ends the thread while loading fails its task with ERR_LOOPGUARD_WORKER_CRASHED, not a crash loop', async () => {
    const { neverRuns } = await import('../fixtures/pool/exits-on-import.mjs');
    const pool = createPool({ maxThreads: 1 });
    await expect(pool.run(add, [1, 1])).resolves.toBe(2); // a thread that already ran a task
    await expect(pool.run(neverRuns, [])).rejects.toMatchObject({ code: 'ERR_LOOPGUARD_WORKER_CRASHED' });
    await expect(pool.run(add, [2, 2])).resolves.toBe(4);
    await pool.close();
  });

  it('a task over its timeout fails with ERR_LOOPGUARD_TASK_TIMEOUT well before it would end, then the pool works', async () => {
    const pool = createPool({ maxThreads: 1 });
    const started = performance.now();
    await expect(pool.run(busy, [5000], { timeout: 100 })).rejects.toMatchObject({
      code: 'ERR_LOOPGUARD_TASK_TIMEOUT',
      timeout: 100,
    });
    expect(performance.now() - started).toBeLessThan(2500);
    await expect(pool.run(add, [1, 2])).resolves.toBe(3);
    await pool.close();
  });

  it('counts taskTimeout from the start of the task, not from when it was queued', async () => {
    const pool = createPool({ maxThreads: 1, taskTimeout: 500 });
    // Each task runs 200 ms, under the timeout, but the third waits ~400 ms in the queue first.
    const results = await Promise.allSettled([pool.run(busy, [200]), pool.run(busy, [200]), pool.run(busy, [200])]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    await pool.close();
  });

  it('an aborted running task rejects with the signal reason (AbortError) and the pool works', async () => {
    const pool = createPool({ maxThreads: 1 });
    const controller = new AbortController();
    const started = performance.now();
    const task = pool.run(busy, [5000], { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await expect(task).rejects.toMatchObject({ name: 'AbortError' });
    expect(performance.now() - started).toBeLessThan(2500);
    await expect(pool.run(add, [1, 2])).resolves.toBe(3);
    await pool.close();
  });

  it('an aborted queued task rejects at once and never runs', async () => {
    const pool = createPool({ maxThreads: 1 });
    const controller = new AbortController();
    const first = pool.run(busy, [300]);
    const queued = pool.run(add, [1, 1], { signal: controller.signal });
    controller.abort(new Error('no longer needed'));
    await expect(queued).rejects.toThrow('no longer needed');
    await expect(first).resolves.toBe(300);
    expect(pool.stats().completed).toBe(1);
    await pool.close();
  });

  it('an aborted task pipelined behind a running one rejects at once, still runs when its turn comes, and its result is dropped', async () => {
    const pool = createPool({ maxThreads: 1 });
    const ledger = ledgerFor(4);
    // Both functions measured as tiny, so the thread takes the second behind the first.
    for (let i = 0; i < 50; i++) {
      await pool.run(holdUntilReleased, [ledgerFor(1), 0, gate({ released: true })]);
      await pool.run(priceOrder, [ledgerFor(1), 0, 1, 1]);
    }
    const held = gate();
    const controller = new AbortController();
    const settlements = watchSettlements();
    const first = pool.run(holdUntilReleased, [ledger, 0, held]);
    const pipelined = settlements.track(() => pool.run(priceOrder, [ledger, 1, 2, 3], { signal: controller.signal }));
    const after = pool.run(priceOrder, [ledger, 2, 4, 5]);
    await running(held); // the thread runs the first task; the other two were posted with it
    expect(pool.stats()).toMatchObject({ threads: 1, busy: 1, queued: 2 });
    controller.abort();
    await expect(pipelined.value).rejects.toMatchObject({ name: 'AbortError' });
    expect(Atomics.load(ledger, 1)).toBe(0); // rejected before the thread reached it
    release(held);
    await expect(first).resolves.toBe(0);
    await expect(after).resolves.toBe(20);
    // It was in the thread's pipeline, not the pool's queue: the thread ran it (a queued task
    // that is aborted never runs), and the pool dropped the result instead of settling again.
    expect(Array.from(ledger.slice(0, 3))).toEqual([1, 1, 1]);
    await settlements.flush();
    expect(settlements.settledCount(pipelined.taskId!)).toBe(1);
    expect(settlements.destroyed(pipelined.taskId!)).toBe(true);
    settlements.stop();
    expect(pool.stats().completed).toBeGreaterThanOrEqual(102);
    await pool.close();
  });

  it('aborting a task its thread has already finished ends no thread and runs the task behind it once', async () => {
    const pool = createPool({ maxThreads: 1 });
    const ledger = ledgerFor(2);
    for (let i = 0; i < 50; i++) {
      await pool.run(holdUntilReleased, [ledgerFor(1), 0, gate({ released: true })]);
      await pool.run(priceOrder, [ledgerFor(1), 0, 1, 1]);
    }
    const held = gate();
    const controller = new AbortController();
    const finished = pool.run(priceOrder, [ledger, 0, 2, 3], { signal: controller.signal }).catch((error: Error) => error.name);
    const behind = pool.run(holdUntilReleased, [ledger, 1, held]);
    await null; // the batch is posted in the microtask queued by the first run()
    // Block this thread until the pool thread is in the second task, so the pool has not read
    // the first one's result yet, then abort the first: it is done, not running.
    Atomics.wait(held, 0, 0);
    controller.abort();
    release(held);
    await expect(behind).resolves.toBe(1);
    await expect(finished).resolves.toBe('AbortError');
    expect(Array.from(ledger)).toEqual([1, 1]); // the task behind it was not run again on a new thread
    await expect(pool.run(priceOrder, [ledgerFor(1), 0, 6, 7])).resolves.toBe(42);
    await pool.close();
  });

  it('an already aborted signal rejects without running', async () => {
    const pool = createPool({ maxThreads: 1 });
    await expect(pool.run(add, [1, 1], { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    await pool.close();
  });

  it('rejects beyond maxQueue with ERR_LOOPGUARD_QUEUE_FULL', async () => {
    const pool = createPool({ maxThreads: 1, maxQueue: 1 });
    const running = pool.run(busy, [300]);
    const waiting = pool.run(busy, [10]);
    await expect(pool.run(busy, [10])).rejects.toMatchObject({ code: 'ERR_LOOPGUARD_QUEUE_FULL' });
    await expect(Promise.all([running, waiting])).resolves.toEqual([300, 10]);
    await pool.close();
  });

  it('rejects on a closed pool with ERR_LOOPGUARD_POOL_CLOSED', async () => {
    const pool = createPool({ maxThreads: 1 });
    await pool.close();
    await expect(pool.run(add, [1, 1])).rejects.toMatchObject({ code: 'ERR_LOOPGUARD_POOL_CLOSED' });
  });

  it('close() finishes queued and running tasks before ending', async () => {
    const pool = createPool({ maxThreads: 1 });
    const tasks = [pool.run(busy, [100]), pool.run(add, [1, 1]), pool.run(add, [2, 2])];
    await pool.close();
    await expect(Promise.all(tasks)).resolves.toEqual([100, 2, 4]);
    expect(pool.stats().threads).toBe(0);
  });

  it('destroy() rejects queued and running tasks with ERR_LOOPGUARD_POOL_CLOSED and ends now', async () => {
    const pool = createPool({ maxThreads: 1 });
    const settled = Promise.allSettled([pool.run(busy, [5000]), pool.run(add, [1, 1])]);
    const started = performance.now();
    await pool.destroy();
    const results = await settled;
    expect(results.map((result) => result.status === 'rejected' && (result.reason as { code: string }).code)).toEqual([
      'ERR_LOOPGUARD_POOL_CLOSED',
      'ERR_LOOPGUARD_POOL_CLOSED',
    ]);
    expect(performance.now() - started).toBeLessThan(2500);
  });

  it('running out of memory under resourceLimits fails only that task, then the pool works', async () => {
    const pool = createPool({ maxThreads: 1, resourceLimits: { maxOldGenerationSizeMb: 24, maxYoungGenerationSizeMb: 4 } });
    const error = (await pool.run(allocateForever, []).catch((caught: unknown) => caught)) as Error & { cause?: { code?: string } };
    expect(error).toMatchObject({ code: 'ERR_LOOPGUARD_WORKER_CRASHED' });
    expect(error.cause?.code).toBe('ERR_WORKER_OUT_OF_MEMORY');
    await expect(pool.run(add, [1, 2])).resolves.toBe(3);
    await pool.close();
  });

  it('a fault storm of 1,200 tasks with random crashes, throws and timeouts settles every task exactly once and runs each one it should', async () => {
    const pool = createPool({ maxThreads: 2 });
    const total = 1200;
    const ledger = ledgerFor(total);
    const settlements = watchSettlements();
    let seed = 42;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const kinds: string[] = [];
    const taskIds: Array<number | undefined> = [];
    const thenCalls = new Array<number>(total).fill(0);
    const outcomes = await Promise.all(
      Array.from({ length: total }, (_, index) => {
        const roll = random();
        let submit: () => Promise<unknown>;
        if (roll < 0.03) {
          kinds.push('crash');
          submit = () => pool.run(crashMidway, [ledger, index, 1]);
        } else if (roll < 0.06) {
          kinds.push('timeout');
          submit = () => pool.run(renderForever, [ledger, index], { timeout: 30 });
        } else if (roll < 0.2) {
          kinds.push('throw');
          submit = () => pool.run(chargeOverQuota, [ledger, index, 10]);
        } else {
          kinds.push('ok');
          submit = () => pool.run(priceOrder, [ledger, index, index, 2]);
        }
        const { value: promise, taskId } = settlements.track(submit);
        taskIds.push(taskId);
        const count = (): void => void thenCalls[index]!++;
        return promise.then(
          (value) => (count(), { ok: true, value }),
          (error: unknown) => (count(), { ok: false, error: error as Error & { code?: string; limit?: number } }),
        );
      }),
    );
    await settlements.flush();
    settlements.stop();
    // Settled exactly once, as the pool's own async resources saw it, and every one destroyed.
    expect(taskIds.every((id) => id !== undefined)).toBe(true);
    expect(taskIds.filter((id) => settlements.settledCount(id!) !== 1)).toEqual([]);
    expect(taskIds.filter((id) => !settlements.destroyed(id!))).toEqual([]);
    expect(thenCalls.every((count) => count === 1)).toBe(true);
    outcomes.forEach((outcome, index) => {
      const kind = kinds[index];
      // Every task ran in a thread: at least once, and more only when a crash lost its result
      // (at most 3 retries). A timeout counts from the task's start in the thread, which on a
      // fresh thread includes importing the function's module: a 30 ms one may end first.
      expect(Atomics.load(ledger, index)).toBeGreaterThanOrEqual(kind === 'timeout' ? 0 : 1);
      expect(Atomics.load(ledger, index)).toBeLessThanOrEqual(4);
      if (kind === 'ok') expect(outcome).toEqual({ ok: true, value: index * 2 });
      else if (kind === 'throw') expect(outcome.ok ? null : outcome.error).toMatchObject({ name: 'QuotaError', code: 'E_QUOTA', limit: 10 });
      else if (kind === 'crash') expect(outcome.ok ? null : outcome.error.code).toBe('ERR_LOOPGUARD_WORKER_CRASHED');
      else expect(outcome.ok ? null : outcome.error.code).toBe('ERR_LOOPGUARD_TASK_TIMEOUT');
    });
    // A task whose thread exited under it ran exactly once, and one that timed out at most once: never retried.
    expect(kinds.flatMap((kind, index) => (kind === 'crash' && Atomics.load(ledger, index) !== 1 ? [index] : []))).toEqual([]);
    expect(kinds.flatMap((kind, index) => (kind === 'timeout' && Atomics.load(ledger, index) > 1 ? [index] : []))).toEqual([]);
    const stats = pool.stats();
    expect(stats.completed + stats.failed).toBe(total);
    expect(stats.completed).toBe(kinds.filter((kind) => kind === 'ok').length);
    await expect(pool.run(add, [1, 1])).resolves.toBe(2);
    await pool.close();
  }, 60_000);
});
