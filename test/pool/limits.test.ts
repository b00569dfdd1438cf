import { describe, expect, it } from 'vitest';
import { createPool, threaded } from 'loopguard';
import { add, busy } from '../fixtures/pool/functions.mjs';
import { renderWithoutLimit, renderWithPoolLimit, reportPool } from '../fixtures/pool/report-pool.mjs';

const overTimerLimit = 2 ** 31; // setTimeout turns this into 1 ms

describe('limits the pool refuses instead of misreading', () => {
  it.each(['taskTimeout', 'idleTimeout'])('createPool({ %s: 2 ** 31 }) throws a RangeError naming the option', (option) => {
    expect(() => createPool({ [option]: overTimerLimit })).toThrow(RangeError);
    expect(() => createPool({ [option]: overTimerLimit })).toThrow(
      expect.objectContaining({ code: 'ERR_LOOPGUARD_INVALID_OPTION', message: expect.stringContaining(`${option} must be a number of ms from 0 to 2147483647`) as unknown }) as Error,
    );
  });

  it('accepts the largest timer delay and Infinity', async () => {
    const pool = createPool({ taskTimeout: 2 ** 31 - 1, idleTimeout: Infinity });
    await expect(pool.run(add, [1, 1], { timeout: 2 ** 31 - 1 })).resolves.toBe(2);
    await pool.close();
  });

  it('run() with a timeout of 2 ** 31 rejects with ERR_LOOPGUARD_INVALID_OPTION instead of timing out at once', async () => {
    const pool = createPool({ maxThreads: 1 });
    await expect(pool.run(busy, [200], { timeout: overTimerLimit })).rejects.toMatchObject({
      name: 'InvalidOptionRangeError',
      code: 'ERR_LOOPGUARD_INVALID_OPTION',
      message: expect.stringContaining('timeout must be a number of ms') as unknown,
    });
    await pool.close();
  });

  it('threaded() with a timeout of 2 ** 31 throws a RangeError naming the option', () => {
    expect(() => threaded(function renderLater() {}, { timeout: overTimerLimit, module: import.meta.url })).toThrow(
      expect.objectContaining({ code: 'ERR_LOOPGUARD_INVALID_OPTION', message: expect.stringContaining('timeout must be a number of ms') as unknown }) as Error,
    );
  });

  it.each([
    [{ minThreads: 2 ** 31 }, /minThreads must be an integer from 0 to 256, got `2147483648`/],
    [{ maxThreads: 257 }, /maxThreads must be an integer from 1 to 256, got `257`/],
  ])('createPool(%j) refuses more threads than the documented cap of 256', (options, message) => {
    expect(() => createPool(options)).toThrow(RangeError);
    expect(() => createPool(options)).toThrow(message);
  });

  it("threaded({ timeout: 0 }) takes the pool's taskTimeout, as documented", async () => {
    await expect(renderWithPoolLimit(10_000)).rejects.toMatchObject({ code: 'ERR_LOOPGUARD_TASK_TIMEOUT', timeout: 300 });
  }, 20_000);

  it("threaded({ timeout: Infinity }) lifts the pool's taskTimeout", async () => {
    await expect(renderWithoutLimit(600)).resolves.toBe(600);
    await reportPool.close();
  }, 20_000);
});

describe('maxQueue bounds every task that waits', () => {
  it('a burst of 3,000 tiny tasks onto one warm thread admits the running task plus maxQueue', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1, maxQueue: 10 });
    for (let i = 0; i < 300; i++) await pool.run(add, [i, 1]); // measured as tiny: pipelined deep
    let admitted = 0;
    let refused = 0;
    let mostWaiting = 0;
    const burst = Array.from({ length: 3000 }, (_, i) => {
      const task = pool.run(add, [i, 1]).then(
        () => void admitted++,
        (error: { code?: string }) => {
          expect(error.code).toBe('ERR_LOOPGUARD_QUEUE_FULL');
          refused++;
        },
      );
      mostWaiting = Math.max(mostWaiting, pool.stats().queued);
      return task;
    });
    await Promise.all(burst);
    expect(admitted).toBe(11);
    expect(refused).toBe(2989);
    expect(mostWaiting).toBe(10);
    await pool.close();
  });
});

describe('close() and destroy() for every caller', () => {
  it('close() awaited by three callers at once resolves for each of them', async () => {
    const pool = createPool({ maxThreads: 1 });
    const work = pool.run(busy, [100]);
    const closers = [pool.close(), pool.close(), pool.close()];
    await expect(Promise.all(closers)).resolves.toEqual([undefined, undefined, undefined]);
    await expect(work).resolves.toBe(100);
    expect(pool.stats().threads).toBe(0);
  });

  it('destroy() while close() callers wait resolves them all, and destroy() twice resolves both', async () => {
    const pool = createPool({ maxThreads: 1 });
    const work = pool.run(busy, [5000]).catch((error: { code?: string }) => error.code);
    const closers = [pool.close(), pool.close()];
    await expect(Promise.all([...closers, pool.destroy(), pool.destroy()])).resolves.toHaveLength(4);
    await expect(work).resolves.toBe('ERR_LOOPGUARD_POOL_CLOSED');
    expect(pool.stats().threads).toBe(0);
  });
});
