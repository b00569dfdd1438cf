import { describe, expect, it } from 'vitest';
import { createPool, InvalidOptionRangeError, InvalidOptionTypeError, ThreadPool } from 'loopguard';

describe('pool option validation', () => {
  it.each([
    [{ minThreads: -1 }, InvalidOptionRangeError, /minThreads must be an integer from 0 to 256, got `-1`/],
    [{ minThreads: 1.5 }, InvalidOptionRangeError, /minThreads/],
    [{ maxThreads: 0 }, InvalidOptionRangeError, /maxThreads must be an integer from 1 to 256, got `0`/],
    [{ maxThreads: '4' }, InvalidOptionTypeError, /maxThreads must be an integer from 1 to 256, got `"4"` \(string\)/],
    [{ minThreads: 3, maxThreads: 2 }, InvalidOptionRangeError, /minThreads must be <= maxThreads \(2\), got `3`/],
    [{ idleTimeout: -5 }, InvalidOptionRangeError, /idleTimeout/],
    [{ maxQueue: 1.5 }, InvalidOptionRangeError, /maxQueue/],
    [{ taskTimeout: NaN }, InvalidOptionTypeError, /taskTimeout/],
    [{ queueWarning: -1 }, InvalidOptionRangeError, /queueWarning/],
    [{ resourceLimits: { maxOldGenerationSizeMb: 'big' } }, InvalidOptionTypeError, /resourceLimits\.maxOldGenerationSizeMb/],
    [{ resourceLimits: { heap: 1 } }, InvalidOptionTypeError, /unknown option `heap`/],
    [{ name: '' }, InvalidOptionTypeError, /name must be a non-empty string/],
    [{ maxThread: 2 }, InvalidOptionTypeError, /unknown option `maxThread`/],
    ['fast', InvalidOptionTypeError, /pool options must be an object/],
  ])('createPool(%j) throws a clear %o', (options, ErrorClass, message) => {
    expect(() => createPool(options as never)).toThrow(ErrorClass);
    expect(() => createPool(options as never)).toThrow(message);
  });

  it('option errors carry the stable ERR_LOOPGUARD_INVALID_OPTION code', () => {
    expect(() => createPool({ maxThreads: 0 })).toThrow(expect.objectContaining({ code: 'ERR_LOOPGUARD_INVALID_OPTION' }) as Error);
  });

  it('accepts Infinity where a limit may be unbounded', async () => {
    const pool = new ThreadPool({ maxQueue: Infinity, idleTimeout: Infinity, taskTimeout: 0, queueWarning: 0 });
    expect(pool.stats().threads).toBe(0);
    await pool.close();
  });

  it('run() rejects, not throws, on bad arguments and options', async () => {
    const pool = createPool({ maxThreads: 1 });
    await expect(pool.run('nope' as never, [])).rejects.toThrow(/fn must be a function/);
    await expect(pool.run((n: number) => n, 5 as never)).rejects.toThrow(/args must be an array/);
    await expect(pool.run((n: number) => n, [1], { timeout: -1 })).rejects.toThrow(RangeError);
    await expect(pool.run((n: number) => n, [1], { signal: {} as AbortSignal })).rejects.toThrow(/signal must be an AbortSignal/);
    await expect(pool.run((n: number) => n, [1], { transfer: 'x' as never })).rejects.toThrow(/transfer must be an array/);
    await expect(pool.run((n: number) => n, [1], { retries: 2 } as never)).rejects.toThrow(/unknown option `retries`/);
    await pool.close();
  });

  it('minThreads keeps threads warm from the start', async () => {
    const pool = createPool({ minThreads: 2, maxThreads: 2 });
    expect(pool.stats().threads).toBe(2);
    await pool.close();
  });

  it('stats() reports threads, counts and wait/run percentiles', async () => {
    const pool = createPool({ maxThreads: 1 });
    await Promise.all([pool.run((n: number) => n, [1]), pool.run(() => { throw new Error('x'); }, [])].map((p) => p.catch(() => 0)));
    const stats = pool.stats();
    expect(stats).toMatchObject({ threads: 1, busy: 0, queued: 0, completed: 1, failed: 1, offloaded: [] });
    expect(stats.runMs.max).toBeGreaterThan(0);
    expect(stats.waitMs.p50).toBeGreaterThanOrEqual(0);
    expect(Object.keys(stats.waitMs)).toEqual(['p50', 'p99', 'max']);
    await pool.close();
  });
});
