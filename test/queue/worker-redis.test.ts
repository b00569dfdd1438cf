// The worker on Redis (BullMQ): see worker-suite.ts.
import { describe, it } from 'vitest';
import { redisAvailability, startRedisServer } from './redis-server.js';
import { workerSuite } from './worker-suite.js';

const redis = redisAvailability();
if (redis.run) {
  workerSuite('queue worker on Redis (BullMQ)', () => startRedisServer());
} else {
  describe('queue worker on Redis (BullMQ)', () => {
    it.skip(`worker tests (${redis.skipReason})`, () => {});
  });
}
