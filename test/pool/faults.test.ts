import { describe, expect, it } from 'vitest';
import { createPool } from 'loopguard';
import { add, allocateForever, busy, exitNow, throwRange } from '../fixtures/pool/functions.mjs';

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

  it('an aborted task pipelined behind another rejects at once; the tasks around it still succeed', async () => {
    const pool = createPool({ maxThreads: 1 });
    await Promise.all(Array.from({ length: 200 }, (_, i) => pool.run(add, [i, 0]))); // measured as tiny: pipelined
    const controller = new AbortController();
    const tasks = [pool.run(add, [1, 1]), pool.run(add, [2, 2], { signal: controller.signal }), pool.run(add, [3, 3])];
    controller.abort();
    const results = await Promise.allSettled(tasks);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ name: 'AbortError' });
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

  it('a fault storm of 1,200 tasks with random crashes, throws and timeouts settles every task exactly once', async () => {
    const pool = createPool({ maxThreads: 2 });
    let seed = 42;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const kinds: string[] = [];
    const settlements = new Array<number>(1200).fill(0);
    const outcomes = await Promise.all(
      Array.from({ length: 1200 }, (_, index) => {
        const roll = random();
        let promise: Promise<unknown>;
        if (roll < 0.03) {
          kinds.push('crash');
          promise = pool.run(exitNow, [1]);
        } else if (roll < 0.06) {
          kinds.push('timeout');
          promise = pool.run(busy, [3000], { timeout: 30 });
        } else if (roll < 0.2) {
          kinds.push('throw');
          promise = pool.run(throwRange, [`task ${index}`]);
        } else {
          kinds.push('ok');
          promise = pool.run(add, [index, 1]);
        }
        const count = (): void => void settlements[index]!++;
        return promise.then(
          (value) => (count(), { ok: true, value }),
          (error: unknown) => (count(), { ok: false, error: error as Error & { code?: string } }),
        );
      }),
    );
    expect(settlements.every((count) => count === 1)).toBe(true);
    outcomes.forEach((outcome, index) => {
      const kind = kinds[index];
      if (kind === 'ok') expect(outcome).toEqual({ ok: true, value: index + 1 });
      else if (kind === 'throw') expect(outcome.ok ? null : outcome.error).toBeInstanceOf(RangeError);
      else if (kind === 'crash') expect(outcome.ok ? null : outcome.error.code).toBe('ERR_LOOPGUARD_WORKER_CRASHED');
      else expect(outcome.ok ? null : outcome.error.code).toBe('ERR_LOOPGUARD_TASK_TIMEOUT');
    });
    const stats = pool.stats();
    expect(stats.completed + stats.failed).toBe(1200);
    expect(stats.completed).toBe(kinds.filter((kind) => kind === 'ok').length);
    await expect(pool.run(add, [1, 1])).resolves.toBe(2);
    await pool.close();
  }, 60_000);
});
