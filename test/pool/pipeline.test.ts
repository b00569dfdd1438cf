import { describe, expect, it } from 'vitest';
import { createPool } from 'loopguard';
import { add, busy, exitNow, startTimer, timerFired } from '../fixtures/pool/functions.mjs';

// How tasks reach an idle thread (the doorbell in shared memory, messages taken without an
// event-loop turn) and how pipelines are sized (run times measured in the thread).
describe('feeding threads', () => {
  it('a thread kept busy by a steady stream of tasks still runs the timers a task started', async () => {
    const pool = createPool({ maxThreads: 1 });
    await pool.run(startTimer, []);
    // 64 tasks in flight at all times: the thread always finds its next batch already queued and
    // takes it without an event-loop turn, unless it gives its loop a turn now and then.
    let fired = false;
    let calls = 0;
    await new Promise<void>((resolve, reject) => {
      let inFlight = 0;
      const launch = (): void => {
        while (!fired && calls < 200_000 && inFlight < 64) {
          calls++;
          inFlight++;
          pool.run(timerFired, []).then((value) => {
            inFlight--;
            fired ||= value;
            if (inFlight === 0 && (fired || calls >= 200_000)) resolve();
            else launch();
          }, reject);
        }
      };
      launch();
    });
    expect(fired).toBe(true);
    await pool.close();
  }, 60_000);

  it('sequential tasks on an idle thread come back in order with the right values', async () => {
    const pool = createPool({ maxThreads: 1 });
    const values: number[] = [];
    for (let i = 0; i < 2000; i++) values.push(await pool.run(add, [i, 1]));
    expect(values).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    await pool.close();
  });

  it('bursts after idle gaps all settle in order', async () => {
    const pool = createPool({ maxThreads: 2 });
    for (let round = 0; round < 20; round++) {
      const values = await Promise.all(Array.from({ length: 300 }, (_, i) => pool.run(add, [i, round])));
      expect(values).toEqual(Array.from({ length: 300 }, (_, i) => i + round));
      // Let both threads drop out of their doorbell wait back to their event loops now and then.
      if (round % 5 === 4) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await pool.close();
  });

  it('a crash right after tiny pipelined tasks fails only the crashing task', async () => {
    const pool = createPool({ maxThreads: 1 });
    await Promise.all(Array.from({ length: 500 }, (_, i) => pool.run(add, [i, 0]))); // learnt as tiny
    const settled = await Promise.allSettled([
      ...Array.from({ length: 100 }, (_, i) => pool.run(add, [i, 1])),
      pool.run(exitNow, [1]),
      ...Array.from({ length: 100 }, (_, i) => pool.run(add, [i, 2])),
    ]);
    expect(settled.filter((result) => result.status === 'rejected')).toHaveLength(1);
    expect((settled[100] as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_LOOPGUARD_WORKER_CRASHED' });
    expect(settled.slice(101).map((result) => (result as PromiseFulfilledResult<number>).value)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 2),
    );
    await pool.close();
  });

  it('never queues a short task behind a long one on a thread another could take it on', async () => {
    const pool = createPool({ minThreads: 2, maxThreads: 2 });
    // Measured first: busy runs long (one at a time per thread), add is tiny (pipelined deep).
    await pool.run(busy, [30]);
    for (let i = 0; i < 50; i++) await pool.run(add, [i, 1]);
    const order: string[] = [];
    const long = pool.run(busy, [500]).then(() => order.push('long'));
    const short = Array.from({ length: 20 }, (_, i) => pool.run(add, [i, 1]).then(() => order.push('short')));
    await Promise.all([long, ...short]);
    // Every short task went to the thread that is not running the long one.
    expect(order.indexOf('long')).toBe(20);
    await pool.close();
  });

  it('stats() reports run times measured in the thread', async () => {
    const pool = createPool({ maxThreads: 1 });
    await pool.run(busy, [120]);
    for (let i = 0; i < 4; i++) await pool.run(busy, [60]);
    const { runMs } = pool.stats();
    expect(runMs.max).toBeGreaterThanOrEqual(115);
    expect(runMs.max).toBeLessThan(5000);
    expect(runMs.p50).toBeGreaterThanOrEqual(55); // within the histogram's ~3% of 60 ms
    expect(runMs.p50).toBeLessThan(runMs.max);
    await pool.close();
  });

  it('a task taken from the doorbell wait still times out, and the pool works after', async () => {
    const pool = createPool({ maxThreads: 1 });
    for (let i = 0; i < 50; i++) await pool.run(add, [i, 1]); // the thread now waits on its doorbell between tasks
    await expect(pool.run(busy, [5000], { timeout: 100 })).rejects.toMatchObject({ code: 'ERR_LOOPGUARD_TASK_TIMEOUT' });
    await expect(pool.run(add, [1, 2])).resolves.toBe(3);
    await pool.close();
  });

  it('a task taken from the doorbell wait can be aborted while it runs', async () => {
    const pool = createPool({ maxThreads: 1 });
    for (let i = 0; i < 50; i++) await pool.run(add, [i, 1]);
    const controller = new AbortController();
    const running = pool.run(busy, [5000], { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    await expect(pool.run(add, [2, 2])).resolves.toBe(4);
    await pool.close();
  });

  it('process.exit in a task taken from the doorbell wait fails that task only', async () => {
    const pool = createPool({ maxThreads: 1 });
    for (let i = 0; i < 50; i++) await pool.run(add, [i, 1]);
    await expect(pool.run(exitNow, [4])).rejects.toMatchObject({ code: 'ERR_LOOPGUARD_WORKER_CRASHED' });
    for (let i = 0; i < 50; i++) expect(await pool.run(add, [i, 1])).toBe(i + 1);
    await pool.close();
  });

  it('destroy() ends threads that wait on their doorbells at once', async () => {
    const pool = createPool({ minThreads: 2, maxThreads: 2 });
    for (let i = 0; i < 20; i++) await pool.run(add, [i, 1]);
    await pool.destroy();
    expect(pool.stats().threads).toBe(0);
    await expect(pool.run(add, [1, 1])).rejects.toMatchObject({ code: 'ERR_LOOPGUARD_POOL_CLOSED' });
  });
});
