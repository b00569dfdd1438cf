import { channel } from 'node:diagnostics_channel';

/**
 * Where a backend publishes `{ queue, backend, error }` for what it cannot throw to anyone:
 * a lost connection it retries, a failed poll, a job it could not settle (its lease runs out
 * and it is retried). Nothing is printed (STYLE.md: observe without printing).
 */
export const diagnosticsChannel = channel('loopguard:queue:error');
