// The BullMQ contract target: a backend on the Redis that bullmq.test.ts started, whose URL it
// puts in the environment so that the contract's child processes find the same server.
import { openBullMQ } from '../../src/queue/backends/bullmq.js';
import type { QueueBackend } from '../../src/queue/backend.js';

export const REDIS_URL_ENV = 'LOOPGUARD_TEST_REDIS_URL';

export function makeBackend(name: string): Promise<QueueBackend> {
  const url = process.env[REDIS_URL_ENV];
  if (!url) throw new Error(`${REDIS_URL_ENV} is not set: start Redis first (test/queue/redis-server.ts)`);
  // The queue-wide default timeout the app would pass; it sizes the stalled check.
  return openBullMQ(url, name, { pollInterval: 500, timeout: 1000 });
}
