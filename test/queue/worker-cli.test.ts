// `loopguard worker`'s command line: a bad flag is one line and exit 9 (like every CLI
// setting), a syntax mistake the usage and exit 2, a start that cannot work (no module, two
// modules marking one key) says why before any job is taken. None of these needs a server.
import { afterEach, describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../src/zero-code/cli-args.js';
import { cleanEnv, killWorkers, queueFixture, spawnWorker } from './worker-helpers.js';

afterEach(killWorkers);

const URL = 'redis://127.0.0.1:1';
/** Exact stderr: no start-up block (loading a queue client on a busy machine) may add a line. */
const quiet = cleanEnv({ LOOPGUARD_THRESHOLD: '60000' });

describe('loopguard worker: parsing', () => {
  it('reads the modules, the queue and the numbers', () => {
    expect(
      parseCliArgs(
        ['worker', './a.js', 'b.mjs', '--queue', URL, '--name', 'reports', '--concurrency', '4', '--threads', '2', '--drain-timeout', '500', '--timeout', '2000', '--max-payload', '4096'],
        '/',
        {},
      ),
    ).toEqual({
      action: 'worker',
      worker: { url: URL, name: 'reports', modules: ['./a.js', 'b.mjs'], concurrency: 4, threads: 2, drainTimeout: 500, timeout: 2000, maxPayload: 4096 },
    });
  });

  it('defaults: concurrency 1, threads = concurrency, drain 30 s; --queue from LOOPGUARD_QUEUE_URL', () => {
    expect(parseCliArgs(['worker', 'a.js', '--name', 'q', '--concurrency', '3'], '/', { LOOPGUARD_QUEUE_URL: URL })).toEqual({
      action: 'worker',
      worker: { url: URL, name: 'q', modules: ['a.js'], concurrency: 3, threads: 3, drainTimeout: 30_000 },
    });
  });

  it('--threads 0: jobs inline on the worker\'s loop, with any --concurrency', () => {
    expect(parseCliArgs(['worker', 'a.js', '--queue', URL, '--name', 'q', '--concurrency', '8', '--threads', '0'], '/', {})).toMatchObject({
      action: 'worker',
      worker: { concurrency: 8, threads: 0 },
    });
  });

  it('"worker" only as the first word: `loopguard -- worker` and `loopguard node worker.js` run commands', () => {
    expect(parseCliArgs(['--', 'worker', 'x'], '/', {})).toMatchObject({ action: 'run', command: ['worker', 'x'] });
    expect(parseCliArgs(['node', 'worker', 'x'], '/', {})).toMatchObject({ action: 'run', command: ['node', 'worker', 'x'] });
  });
});

describe('loopguard worker: bad flags', () => {
  const cases: Array<[string, string[], string]> = [
    ['--concurrency 0', ['--concurrency', '0'], 'loopguard: --concurrency must be a whole number from 1 to 10000, got "0"\n'],
    ['--concurrency two', ['--concurrency', 'two'], 'loopguard: --concurrency must be a whole number from 1 to 10000, got "two"\n'],
    ['--threads above --concurrency', ['--concurrency', '2', '--threads', '3'], 'loopguard: --threads must be <= --concurrency (2): a job runs on one thread, got "3"\n'],
    ['--threads -1', ['--threads=-1'], 'loopguard: --threads must be a whole number from 0 to 256, got "-1"\n'],
    ['--drain-timeout -1', ['--drain-timeout=-1'], 'loopguard: --drain-timeout must be a number of ms >= 0, got "-1"\n'],
    ['--max-payload 1.5', ['--max-payload', '1.5'], 'loopguard: --max-payload must be a whole number from 1 to 2147483647, got "1.5"\n'],
  ];
  for (const [title, flags, message] of cases) {
    it(`${title}: one line, exit 9, before anything starts`, async () => {
      const worker = spawnWorker([queueFixture('report-tasks.mjs'), '--queue', URL, '--name', 'q', ...flags], quiet);
      expect(await worker.exited).toEqual({ code: 9, signal: null });
      expect(worker.stderr).toBe(message);
    });
  }

  it('a bad LOOPGUARD_* setting for its monitor: one line, exit 9', async () => {
    const worker = spawnWorker([queueFixture('report-tasks.mjs'), '--queue', URL, '--name', 'q'], cleanEnv({ LOOPGUARD_THRESHOLD: 'soon' }));
    expect(await worker.exited).toEqual({ code: 9, signal: null });
    expect(worker.stderr).toBe('loopguard: LOOPGUARD_THRESHOLD must be a number of ms >= 1, got "soon"\n');
  });

  it('no --queue and no LOOPGUARD_QUEUE_URL: the worker usage, exit 2', async () => {
    const worker = spawnWorker([queueFixture('report-tasks.mjs'), '--name', 'q'], quiet);
    expect(await worker.exited).toEqual({ code: 2, signal: null });
    expect(worker.stderr).toMatch(/^loopguard: loopguard worker needs --queue <url> \(or LOOPGUARD_QUEUE_URL\)\n\nUsage: loopguard worker /);
  });

  it('an unknown flag: named, with the worker usage, exit 2', async () => {
    const worker = spawnWorker([queueFixture('report-tasks.mjs'), '--queue', URL, '--name', 'q', '--concurency', '2'], quiet);
    expect(await worker.exited).toEqual({ code: 2, signal: null });
    expect(worker.stderr.split('\n')[0]).toBe('loopguard: unknown option --concurency for loopguard worker');
  });

  it('--help prints the worker usage', async () => {
    const worker = spawnWorker(['--help'], quiet);
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(worker.stdout).toMatch(/^Usage: loopguard worker <modules\.\.\.> --queue <url> --name <queue>/);
  });
});

describe('loopguard worker: a start that cannot work', () => {
  it('a module that does not exist: one line naming it, exit 9', async () => {
    const worker = spawnWorker(['./no-such-tasks.mjs', '--queue', URL, '--name', 'q'], quiet);
    expect(await worker.exited).toEqual({ code: 9, signal: null });
    expect(worker.stderr).toMatch(/^loopguard: modules: cannot find "\.\/no-such-tasks\.mjs" \(looked for \/.*no-such-tasks\.mjs\)\n$/);
  });

  it('two modules marking one key: refused at start, naming both modules, exit 1', async () => {
    const worker = spawnWorker([queueFixture('other-reports.mjs'), queueFixture('legacy/render.mjs'), '--queue', URL, '--name', 'q'], quiet);
    expect(await worker.exited).toEqual({ code: 1, signal: null });
    expect(worker.stderr).toContain('loopguard worker: two modules mark a function as "renderReport": ');
    expect(worker.stderr).toContain('other-reports.mjs and file://');
    expect(worker.stderr).toContain('legacy/render.mjs; a job names its function by key alone');
  });

  it('a module that throws while loading: its error with its stack, exit 1', async () => {
    const worker = spawnWorker([queueFixture('needs-config.mjs'), '--queue', URL, '--name', 'q'], quiet);
    expect(await worker.exited).toEqual({ code: 1, signal: null });
    expect(worker.stderr).toMatch(/^loopguard worker: Error: REPORTS_BUCKET is not set\n +at .*needs-config\.mjs:5/);
  });

  it('a server that refuses: one line naming the URL without its password, exit 1', async () => {
    const worker = spawnWorker([queueFixture('reports.mjs'), '--queue', 'redis://app:s3cret@127.0.0.1:1', '--name', 'q'], quiet);
    expect(await worker.exited).toEqual({ code: 1, signal: null });
    expect(worker.stderr).toBe('loopguard worker: cannot reach the queue at `redis://app:***@127.0.0.1:1`: connect ECONNREFUSED 127.0.0.1:1\n');
  });

  it('modules that mark nothing: one line, exit 9', async () => {
    const worker = spawnWorker([queueFixture('lib/pages.mjs'), '--queue', URL, '--name', 'q'], quiet);
    expect(await worker.exited).toEqual({ code: 9, signal: null });
    expect(worker.stderr).toMatch(/^loopguard: modules: none of the modules marks a function with threaded\(\)/);
  });
});

describe('LOOPGUARD_QUEUE_URL among the settings', () => {
  it('`loopguard -- node app.js` does not warn about it, and a misspelling of it is named', async () => {
    const { spawnSync } = await import('node:child_process');
    const { join } = await import('node:path');
    const { cliPath, root } = await import('./worker-helpers.js');
    const app = join(root, 'test/fixtures/zerocode/exit-code.mjs');
    const plain = spawnSync(process.execPath, [cliPath, '--no-summary', '--', process.execPath, app], {
      env: cleanEnv({ LOOPGUARD_QUEUE_URL: URL }),
      encoding: 'utf8',
    });
    expect(plain.status).toBe(0);
    expect(plain.stderr).not.toContain('LOOPGUARD_QUEUE_URL');
    const typo = spawnSync(process.execPath, [cliPath, '--no-summary', '--', process.execPath, app], {
      env: cleanEnv({ LOOPGUARD_QUEUE_ULR: URL }),
      encoding: 'utf8',
    });
    expect(typo.stderr).toContain('loopguard: ignoring LOOPGUARD_QUEUE_ULR: not a loopguard variable; did you mean LOOPGUARD_QUEUE_URL?');
  });
});
