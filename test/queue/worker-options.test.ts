// startWorker()'s options are checked before anything starts, each error naming the option
// and the value received.
import { describe, expect, it } from 'vitest';
import { resolveWorkerOptions } from '../../src/queue/worker/options.js';

const base = { url: 'redis://127.0.0.1:6379', name: 'reports', modules: ['./tasks.js'] };

describe('startWorker options', () => {
  it('defaults: concurrency 1, threads = concurrency, drain 30 s, timeout 60 s, 1 MiB, JSON log, a monitor, no signal handling', () => {
    expect(resolveWorkerOptions(base)).toEqual({
      ...base,
      concurrency: 1,
      threads: 1,
      drainTimeout: 30_000,
      timeout: 60_000,
      maxPayload: 1_048_576,
      log: 'json',
      monitor: {},
      handleSignals: false,
    });
    expect(resolveWorkerOptions({ ...base, concurrency: 6 }).threads).toBe(6);
    // 0: no pool, the jobs run inline on the worker's loop, whatever the concurrency.
    expect(resolveWorkerOptions({ ...base, concurrency: 6, threads: 0 })).toMatchObject({ concurrency: 6, threads: 0 });
    expect(resolveWorkerOptions({ ...base, threads: 0 }).threads).toBe(0);
  });

  const bad: Array<[string, unknown, string]> = [
    ['no options', undefined, 'startWorker() needs options: { url, name, modules }'],
    ['an unknown option', { ...base, concurency: 2 }, 'worker options has an unknown option `concurency`'],
    ['url', { ...base, url: '' }, 'url must be a non-empty string, got `""` (string)'],
    ['name', { ...base, name: 7 }, 'name must be a non-empty string, got `7` (number)'],
    ['modules empty', { ...base, modules: [] }, 'modules must be a non-empty array of module paths, got an array'],
    ['a module', { ...base, modules: ['a.js', ''] }, 'modules[1] must be a non-empty string'],
    ['concurrency', { ...base, concurrency: 0 }, 'concurrency must be an integer from 1 to 10000, got `0` (number)'],
    ['threads', { ...base, concurrency: 2, threads: 3 }, 'threads must be <= concurrency (2): a job runs on one thread, got 3'],
    ['threads below 0', { ...base, threads: -1 }, 'threads must be an integer from 0 to 256, got `-1` (number)'],
    ['threads not whole', { ...base, concurrency: 2, threads: 0.5 }, 'threads must be an integer from 0 to 256, got `0.5` (number)'],
    ['drainTimeout', { ...base, drainTimeout: -1 }, 'drainTimeout must be an integer from 0 to 2147483647, got `-1` (number)'],
    ['timeout', { ...base, timeout: 0 }, 'timeout must be an integer from 1 to 2147483647, got `0` (number)'],
    ['maxPayload', { ...base, maxPayload: 1.5 }, 'maxPayload must be an integer >= 1, got `1.5` (number)'],
    ['log', { ...base, log: 'pretty' }, "log must be 'json', false or a logger with an info(obj, msg) method, got `\"pretty\"` (string)"],
    ['monitor', { ...base, monitor: true }, "monitor must be the monitor's options or false, got `true` (boolean)"],
    ['handleSignals', { ...base, handleSignals: 'yes' }, 'handleSignals must be a boolean, got `"yes"` (string)'],
  ];
  for (const [what, options, message] of bad) {
    it(`refuses ${what}, naming it`, () => {
      expect(() => resolveWorkerOptions(options)).toThrow(expect.objectContaining({ code: 'ERR_LOOPGUARD_INVALID_OPTION', message: expect.stringContaining(message) }));
    });
  }
});
