// The app's side of the job queue on Redis (BullMQ 6): see client-suite.ts. A redis-server of
// this file's own; without one, the tests are reported skipped with the install command.
import { clientSuite } from './client-suite.js';
import { redisAvailability, startRedisServer } from './redis-server.js';

const redis = redisAvailability();

clientSuite('queue on Redis (BullMQ)', startRedisServer, redis.run ? undefined : redis.skipReason);
