// The worker on PostgreSQL (pg-boss 12): see worker-suite.ts. The server is the run's embedded
// PostgreSQL (postgres.global.ts); pg-boss 12 needs Node ≥ 22.12.
import { describe, inject, it } from 'vitest';
import { supportsPgBoss } from './postgres.global.js';
import { workerSuite } from './worker-suite.js';

if (supportsPgBoss()) {
  workerSuite('queue worker on PostgreSQL (pg-boss)', async () => {
    const url = inject('postgresUrl');
    if (typeof url !== 'string' || url === '') throw new Error('no PostgreSQL for this run: is test/queue/postgres.global.ts in vitest\'s globalSetup?');
    // One server for the run: the global teardown stops it.
    return { url, stop: async () => {} };
  });
} else {
  describe('queue worker on PostgreSQL (pg-boss)', () => {
    it.skip(`worker tests (skipped: needs Node ≥ 22.12, this is ${process.versions.node})`, () => {});
  });
}
