/**
 * The lease: a job whose worker died mid-job (SIGKILL) runs again on another worker within about
 * twice its timeout, against a real PostgreSQL. (A lost lease is an extra attempt, not one of its
 * retries; one lost lease more fails it with WorkerCrashedError: test/queue/backend-contract.ts.)
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createQueue } from 'loopguard/queue';
import { startConsumer } from './consumer.js';
import { pgBossSupported, pgSuiteName, postgresUrl } from './support.js';

const suite = pgBossSupported ? describe : describe.skip;

suite(pgSuiteName('lease on PostgreSQL (pg-boss)'), () => {
  it('runs a job again on another worker once its SIGKILLed worker\'s lease runs out', async () => {
    const url = postgresUrl();
    const name = `lease-${process.pid}`;
    // The app's default timeout sizes pg-boss's supervision here: every second for 2 s.
    const queue = createQueue({ url, name, timeout: 2_000, pollInterval: 50 });
    process.env.QUEUE_URL = url; // the fixture's own queue, never used here
    const { buildLedger } = await import('../fixtures/queue/tasks.mjs');
    const doomed = fork(fileURLToPath(new URL('../fixtures/queue/doomed-worker.ts', import.meta.url)), [url, name], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    try {
      const [ready] = (await once(doomed, 'message')) as [{ ready?: boolean }];
      expect(ready.ready).toBe(true);
      const { id } = await queue.enqueue(buildLedger, ['2026-07', 0], { retries: 1 });
      const [started] = (await once(doomed, 'message')) as [{ started: string }];
      expect(started.started).toBe(id);
      doomed.kill('SIGKILL');
      await once(doomed, 'exit');
      const killedAt = performance.now();
      const rescuer = await startConsumer(url, name, 1);
      try {
        await expect(queue.result(id, { timeout: 30_000 })).resolves.toBe('ledger 2026-07');
        const elapsed = performance.now() - killedAt;
        // Lease 3 s (the 2 s timeout rounded up, plus one), supervision every 1 s: well under
        // 10 s, and never before the lease could have run out.
        expect(elapsed).toBeLessThan(10_000);
        expect(elapsed).toBeGreaterThan(500);
        const status = await queue.status(id);
        expect(status).toMatchObject({ state: 'completed', attempts: 2 });
        expect([...rescuer.jobs.keys()]).toEqual([id]);
      } finally {
        await rescuer.stop();
      }
    } finally {
      if (doomed.exitCode === null && doomed.signalCode === null) doomed.kill('SIGKILL');
      await queue.close();
    }
  });
});
