// The pool's internal TASK_CONTEXT run option (what the queue worker's job progress finds its
// job by): the thread exposes each task's own context while that task runs, and none to the
// tasks of the same batch that carry none, sync or async.
import { describe, expect, it } from 'vitest';
import { createPool } from 'loopguard';
import { TASK_CONTEXT } from '../../src/shared/globals.js';

describe('TASK_CONTEXT', () => {
  it('gives each task its own context in its thread, and none to the tasks without one', async () => {
    const pool = createPool({ maxThreads: 1, name: 'context' });
    try {
      // Plain functions (sent as source): they read the global by its key, as progress.ts does.
      const read = () => (globalThis as Record<symbol, unknown>)[Symbol.for('loopguard.v1.taskContext')] ?? null;
      const readLater = async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return (globalThis as Record<symbol, unknown>)[Symbol.for('loopguard.v1.taskContext')] ?? null;
      };
      // Submitted in one tick: one batch, contexts on some tasks only.
      const runs = Array.from({ length: 12 }, (_, n) => {
        const fn = n % 3 === 2 ? readLater : read;
        const options = n % 2 === 0 ? ({ [TASK_CONTEXT]: { job: n } } as object) : undefined;
        return pool.run(fn, [], options as never);
      });
      expect(await Promise.all(runs)).toEqual(Array.from({ length: 12 }, (_, n) => (n % 2 === 0 ? { job: n } : null)));
    } finally {
      await pool.close();
    }
  });
});
