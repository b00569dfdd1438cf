import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { threaded } from 'loopguard';
import { autoPool, followsMonitor, limited, maybeHeavy } from '../fixtures/pool/auto.mjs';
import { unreachable } from '../fixtures/pool/broken-import.mjs';
import { markPerRequest, markTwice } from '../fixtures/pool/marking-rules.mjs';
import { outer } from '../fixtures/pool/nested.mjs';
import { fixture, lastJson, longestLoopGap, runChild } from './helpers.js';

const require = createRequire(import.meta.url);

describe('threaded(): marking and finding functions', () => {
  it('runs a marked function from a CommonJS module loaded through require', async () => {
    const cjs = require(fixture('functions.cjs')) as {
      fib: (n: number) => Promise<number>;
      threadInfo: () => Promise<{ isMainThread: boolean; format: string }>;
    };
    await expect(cjs.fib(20)).resolves.toBe(6765);
    await expect(cjs.threadInfo()).resolves.toEqual({ isMainThread: false, format: 'cjs' });
  });

  it('runs a marked TypeScript function when the program runs through tsx (workers inherit --import tsx)', async () => {
    const child = await runChild(fixture('tsx-main.ts'), ['--import', 'tsx']);
    expect(child.stderr).toBe('');
    expect(lastJson(child.stdout)).toEqual({ result: { count: 4, sum: 10 }, isMainThread: true });
  });

  it('runs a marked TypeScript function even when tsx was registered in-process with register()', async () => {
    // Hooks from module.register() do not reach worker threads; the pool thread registers tsx itself.
    const child = await runChild(fixture('tsx-register-main.mjs'));
    expect(lastJson(child.stdout)).toEqual({ result: { count: 2, sum: 3 } });
  });

  it('runs a marked function from a module that the test runner (vitest) transformed', async () => {
    const { multiply } = await import('./transformed-module.js');
    await expect(multiply(6, 7)).resolves.toBe(42);
  });

  it('a marked function calling another runs it inline in the same worker thread', async () => {
    const result = (await outer(1)) as { n: number; isMainThread: boolean; threadId: number; outerThreadId: number };
    expect(result.n).toBe(2);
    expect(result.isMainThread).toBe(false);
    expect(result.threadId).toBe(result.outerThreadId);
  });

  it('a module that fails to import in a worker gives ERR_LOOPGUARD_NOT_PORTABLE with the import error as cause', async () => {
    const error = (await unreachable().catch((caught: unknown) => caught)) as Error & { code: string; cause: Error };
    expect(error.code).toBe('ERR_LOOPGUARD_NOT_PORTABLE');
    expect(error.message).toContain('module of its own');
    expect(error.cause.message).toBe('this module needs the main thread');
  });

  it('refuses to mark a function in the program entry module', async () => {
    const child = await runChild(fixture('entry-marks.mjs'));
    const output = lastJson<{ code: string; message: string }>(child.stdout);
    expect(output.code).toBe('ERR_LOOPGUARD_NOT_PORTABLE');
    expect(output.message).toContain('entry module');
    expect(output.message).toContain('module of its own');
  });

  it('accepts a function marked after a top-level await', async () => {
    const { afterAwait } = await import('../fixtures/pool/after-await.mjs');
    await expect(afterAwait(1)).resolves.toBe(2);
  });

  it('throws at once when two different functions are marked under one key, naming the place', () => {
    expect(() => markTwice()).toThrow(/two different functions are marked as "same".*marking-rules\.mjs:\d+/);
  });

  it('throws at once when threaded() is called inside a function (per request), naming the place', () => {
    expect(() => markPerRequest()).toThrow(/top level of a module.*marking-rules\.mjs:\d+/);
  });

  it('validates its options', () => {
    const fn = (n: number) => n;
    expect(() => threaded(fn, { offload: 'sometimes' as 'auto' })).toThrow(TypeError);
    expect(() => threaded(fn, { concurrency: 0 })).toThrow(RangeError);
    expect(() => threaded(fn, { timeout: -1 })).toThrow(RangeError);
    expect(() => threaded(fn, { module: 'relative/path.js' })).toThrow(/module must be import\.meta\.url or __filename/);
    expect(() => threaded('nope' as unknown as () => void)).toThrow(/fn must be a function/);
  });
});

describe("threaded(): offload 'auto' and concurrency", () => {
  it('after one heavy call, later heavy calls no longer hold the loop', async () => {
    const first = await longestLoopGap(() => maybeHeavy(200));
    expect(first.longestGap).toBeGreaterThanOrEqual(150); // ran inline, on this loop
    expect(autoPool.stats().offloaded).toEqual([expect.stringContaining('maybeHeavy')]);
    // Inline, each call would hold the loop for its full 500 ms; in the pool, only scheduling
    // noise of this loaded machine remains.
    const later = await longestLoopGap(() => Promise.all([maybeHeavy(500), maybeHeavy(500)]));
    expect(later.value).toEqual([500, 500]);
    expect(later.longestGap).toBeLessThan(250);
  });

  it("uses the running monitor's threshold when none is given", async () => {
    const monitorKey = Symbol.for('loopguard.v1.monitor');
    const holder = globalThis as Record<symbol, unknown>;
    try {
      holder[monitorKey] = { threshold: 2000 };
      await followsMonitor(150); // under the monitor's 2000 ms: stays inline
      expect(autoPool.stats().offloaded.some((label: string) => label.startsWith('followsMonitor'))).toBe(false);
      holder[monitorKey] = { threshold: 50 };
      await followsMonitor(150); // over 50 ms: moves to the pool
      expect(autoPool.stats().offloaded.some((label: string) => label.startsWith('followsMonitor'))).toBe(true);
    } finally {
      delete holder[monitorKey];
    }
  });

  it('runs at most `concurrency` calls of one marked function at once', async () => {
    const finished = await Promise.all([limited(80), limited(80), limited(80)]);
    expect(finished[1] - finished[0]).toBeGreaterThanOrEqual(60);
    expect(finished[2] - finished[1]).toBeGreaterThanOrEqual(60);
  });
});
