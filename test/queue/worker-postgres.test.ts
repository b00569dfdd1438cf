// The worker on PostgreSQL (pg-boss 12): see worker-suite.ts. The server is the run's embedded
// PostgreSQL (postgres.global.ts); pg-boss 12 needs Node ≥ 22.12.
import { describe, inject, it } from 'vitest';
import { supportsPgBoss } from './postgres.global.js';
import { workerSuite } from './worker-suite.js';

const url = inject('postgresUrl');
if (supportsPgBoss() && url !== '') {
  // One server for the run: the suite's stop() leaves it to the global teardown.
  workerSuite('queue worker on PostgreSQL (pg-boss)', async () => ({ url, stop: async () => {} }));
} else {
  describe('queue worker on PostgreSQL (pg-boss)', () => {
    it.skip(`worker tests (skipped: needs Node ≥ 22.12, this is ${process.versions.node})`, () => {});
  });
}
