import { inject } from 'vitest';
import { supportsPgBoss } from './postgres.global.js';

/** pg-boss 12's floor; below it the PostgreSQL tests are skipped and say why. */
export const pgBossSupported = supportsPgBoss();
export const pgSuiteName = (name: string): string => (pgBossSupported ? name : `${name} (skipped: needs Node ≥ 22.12)`);

/** The run's embedded PostgreSQL (test/queue/postgres.global.ts). */
export function postgresUrl(): string {
  const url = inject('postgresUrl');
  if (url === '') throw new Error('no PostgreSQL was started for this run (test/queue/postgres.global.ts)');
  return url;
}
