/** threaded(fn, { queue }) where no server is needed: inside a pool thread, and across builds. */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import * as esm from 'loopguard/queue';
import { pgBossSupported } from './support.js';

const require = createRequire(import.meta.url);

describe('threaded(fn, { queue })', () => {
  it('runs a queue-marked function inline when another marked function calls it in a pool thread', async () => {
    const { monthlyStatement } = await import('../fixtures/queue/statements.mjs');
    // The queue points nowhere: a job would reject (no server, or no pg-boss on this Node).
    await expect(monthlyStatement('acct-3')).resolves.toEqual({ accountId: 'acct-3', report: 'report acct-3-2026-11', builtIn: 'pool thread' });
  });

  it('tells the route helpers which queue a function was marked with (queueOf)', async () => {
    const { queueOf } = await import('../../src/pool/marking/threaded.js');
    const { renderReport, reportsQueue } = await import('../fixtures/queue/reports.mjs');
    const { monthlyStatement } = await import('../fixtures/queue/statements.mjs');
    expect(queueOf(renderReport)).toBe(reportsQueue);
    expect(queueOf(monthlyStatement)).toBeUndefined();
  });

  it('is one API from the ESM and the CommonJS build: the brand and the errors cross', () => {
    const cjs = require('loopguard/queue') as typeof esm;
    const queue = cjs.createQueue({ url: 'redis://127.0.0.1:1', name: 'reports' });
    expect((queue as unknown as Record<symbol, unknown>)[Symbol.for('loopguard.v1.queue')]).toBe(true);
    expect(new cjs.JobNotFoundError('7')).toBeInstanceOf(esm.JobNotFoundError);
    expect(new esm.QueueClosedError()).toBeInstanceOf(cjs.QueueClosedError);
  });

  it.runIf(!pgBossSupported)('rejects a postgres queue on Node < 22.12 with QueuePeerMissingError saying why', async () => {
    const { reportsQueue, renderReport } = await import('../fixtures/queue/reports.mjs');
    const error = await renderReport('7').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(esm.QueuePeerMissingError);
    expect(error).toMatchObject({ code: 'ERR_LOOPGUARD_PEER_MISSING', package: 'pg-boss' });
    expect((error as Error).message).toContain('pg-boss 12, which needs Node >= 22.12');
    await reportsQueue.close();
  });
});
