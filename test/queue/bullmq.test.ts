import { fileURLToPath } from 'node:url';
import { describeBackendContract } from './backend-contract.js';
import { REDIS_URL_ENV } from './bullmq-target.js';
import { redisAvailability, startRedisServer } from './redis-server.js';

const redis = redisAvailability();

describeBackendContract('BullMQ', {
  module: fileURLToPath(new URL('./bullmq-target.ts', import.meta.url)),
  ...(redis.run ? {} : { skip: redis.skipReason }),
  async setup() {
    const server = await startRedisServer();
    process.env[REDIS_URL_ENV] = server.url;
    return () => server.stop();
  },
});
