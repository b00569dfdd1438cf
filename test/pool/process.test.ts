import { afterEach, describe, expect, it } from 'vitest';
import { createPool, startMonitor } from 'loopguard';
import { busy } from '../fixtures/pool/functions.mjs';
import { fixture, lastJson, runChild } from './helpers.js';

const monitorKey = Symbol.for('loopguard.v1.monitor');

describe('the pool and the process', () => {
  it('a process using the default pool waits for the pending result, then exits by itself', async () => {
    const child = await runChild(fixture('default-pool-exit.mjs'));
    expect(child.code).toBe(0);
    expect(lastJson(child.stdout)).toEqual({ value: 196418 });
    expect(child.elapsedMs).toBeLessThan(8000); // well before the 10 s idleTimeout
  });

  it('the CommonJS build runs tasks and lets the process exit by itself', async () => {
    const child = await runChild(fixture('cjs-build.cjs'));
    expect(child.code).toBe(0);
    expect(lastJson(child.stdout)).toEqual({ value: 42 });
  });

  it('warm idle threads (minThreads) do not keep the process alive', async () => {
    const child = await runChild(fixture('idle-pool.mjs'));
    expect(child.code).toBe(0);
    expect(lastJson(child.stdout)).toEqual({ value: 42, threads: 2 });
  });

  it('a process exits by itself right after sequential tasks, while its threads wait on their doorbells', async () => {
    const child = await runChild(fixture('doorbell-exit.mjs'));
    expect(child.code).toBe(0);
    expect(lastJson(child.stdout)).toEqual({ sum: 20100 + 5, burst: 2000 });
  });

  it('an idle thread above minThreads ends after idleTimeout', async () => {
    const pool = createPool({ maxThreads: 1, idleTimeout: 50 });
    await pool.run((n: number) => n, [1]);
    expect(pool.stats().threads).toBe(1);
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (pool.stats().threads === 0) {
          clearInterval(check);
          resolve();
        }
      }, 10);
    });
    expect(pool.stats().threads).toBe(0);
    await expect(pool.run((n: number) => n + 1, [1])).resolves.toBe(2);
    await pool.close();
  });
});

describe('pool saturation warnings', () => {
  afterEach(() => {
    delete (globalThis as Record<symbol, unknown>)[monitorKey];
  });

  it('warns once per saturation episode through process.emitWarning, naming pool, queue and wait', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const pool = createPool({ maxThreads: 1, queueWarning: 100, name: 'reports' });
      await Promise.all([pool.run(busy, [250]), pool.run(busy, [250]), pool.run(busy, [250]), pool.run(busy, [250])]);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on next tick
      await pool.close();
    } finally {
      process.off('warning', onWarning);
    }
    const saturation = warnings.filter((warning) => (warning as { code?: string }).code === 'LOOPGUARD_POOL_SATURATED');
    expect(saturation).toHaveLength(1);
    expect(saturation[0]!.message).toMatch(/thread pool "reports" is saturated: a task waited \d+ ms for a thread \(\d+ queued/);
  });

  it('reports through the running monitor, prefixed "loopguard:" once, counting the tasks still waiting', async () => {
    const written: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    const monitor = startMonitor({ log: 'pretty', threshold: 5000 });
    try {
      const pool = createPool({ maxThreads: 1, queueWarning: 100, name: 'reports' });
      // busy is not measured yet: one at a time, so when the second starts the last two wait.
      await Promise.all([pool.run(busy, [250]), pool.run(busy, [250]), pool.run(busy, [250]), pool.run(busy, [250])]);
      await pool.close();
    } finally {
      await monitor.stop();
      process.stderr.write = write;
    }
    const lines = written.join('').split('\n').filter((line) => line.includes('saturated'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^loopguard: thread pool "reports" is saturated: a task waited \d+ ms for a thread \(2 queued, 1 threads\)/);
    expect(lines[0]!.split('loopguard:')).toHaveLength(2);
    expect(lines[0]).toContain('queued=2');
  });

  it('does not warn when tasks start within queueWarning', async () => {
    const calls: unknown[] = [];
    (globalThis as Record<symbol, unknown>)[monitorKey] = { warn: (fields: unknown) => calls.push(fields) };
    const pool = createPool({ maxThreads: 1, queueWarning: 1000 });
    await Promise.all([pool.run(busy, [50]), pool.run(busy, [50])]);
    await pool.close();
    expect(calls).toHaveLength(0);
  });
});
