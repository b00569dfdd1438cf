import { describe, expect, it } from 'vitest';
import { fixture, lastJson, runChild } from './helpers.js';

interface StormFigures {
  tasks: number;
  tasksMade: number;
  byKind: Record<string, number>;
  outcomes: Record<string, number>;
  reruns: number;
  afterwards: number;
  problems: string[];
  problemCount: number;
  seconds: number;
  node: string;
}

describe('the fault storm', () => {
  it('10,000 tasks of every fault on four pools: each settles exactly once, runs only when it should, the host survives and exits by itself', async () => {
    // A fresh process: an exception escaping the pool would kill it (no handler there), and
    // an unsettled task or a thread left referenced would keep it from exiting on its own.
    const child = await runChild(fixture('fault-storm.mjs'), [], 120_000);
    expect(child.stderr).toBe('');
    expect(child.code).toBe(0);
    const figures = lastJson<StormFigures>(child.stdout);
    expect(figures.problems).toEqual([]);
    expect(figures.problemCount).toBe(0);
    expect(Object.values(figures.outcomes).reduce((sum, count) => sum + count, 0)).toBe(10_000);
    expect(figures.outcomes.unsettled).toBeUndefined();
    // Every kind of ending happened, so the storm really mixed them.
    for (const outcome of [
      'fulfilled',
      'E_QUOTA',
      'ERR_LOOPGUARD_WORKER_CRASHED',
      'ERR_LOOPGUARD_TASK_TIMEOUT',
      'AbortError',
      'DataCloneError',
      'ERR_LOOPGUARD_QUEUE_FULL',
      'ERR_LOOPGUARD_POOL_CLOSED',
    ]) {
      expect(figures.outcomes[outcome], outcome).toBeGreaterThan(0);
    }
    expect(figures.afterwards).toBe(42); // the pool that took the storm still works
    console.log(`fault storm: ${JSON.stringify(figures)}`);
  }, 150_000);
});
