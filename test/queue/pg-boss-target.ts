// The pg-boss contract target: a backend on the run's embedded PostgreSQL, whose URL
// pg-boss.test.ts puts in the environment so that the contract's child processes find it.
import { openPgBoss } from '../../src/queue/backends/pg-boss.js';
import type { QueueBackend } from '../../src/queue/backend.js';

export const POSTGRES_URL_ENV = 'LOOPGUARD_TEST_POSTGRES_URL_FOR_CONTRACT';

export function makeBackend(name: string): Promise<QueueBackend> {
  const url = process.env[POSTGRES_URL_ENV];
  if (!url) throw new Error(`${POSTGRES_URL_ENV} is not set: pg-boss.test.ts sets it from inject('postgresUrl')`);
  // The queue-wide default timeout the app would pass: it sizes pg-boss's supervision (every 1 s here).
  return openPgBoss(url, name, { pollInterval: 100, timeout: 2000 });
}
