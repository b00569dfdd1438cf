// The backend contract (backend-contract.ts) for pg-boss 12 on the run's embedded PostgreSQL.
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { describeBackendContract } from './backend-contract.js';
import { POSTGRES_URL_ENV } from './pg-boss-target.js';
import { pgBossSupported } from './support.js';

describeBackendContract('pg-boss', {
  module: fileURLToPath(new URL('./pg-boss-target.ts', import.meta.url)),
  ...(pgBossSupported ? {} : { skip: 'skipped: needs Node ≥ 22.12' }),
  async setup() {
    const url = inject('postgresUrl');
    if (url === '') throw new Error('no PostgreSQL was started for this run (test/queue/postgres.global.ts)');
    process.env[POSTGRES_URL_ENV] = url;
    return async () => {};
  },
});
