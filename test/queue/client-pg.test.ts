// The app's side of the job queue on PostgreSQL (pg-boss 12): see client-suite.ts. The server
// is the run's embedded PostgreSQL (postgres.global.ts); pg-boss 12 needs Node ≥ 22.12.
import { clientSuite } from './client-suite.js';
import { pgBossSupported, postgresUrl } from './support.js';

clientSuite(
  'queue on PostgreSQL (pg-boss)',
  // One server for the run: the global teardown stops it.
  async () => ({ url: postgresUrl(), stop: async () => {} }),
  pgBossSupported ? undefined : 'skipped: needs Node ≥ 22.12',
);
