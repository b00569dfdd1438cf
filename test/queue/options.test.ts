/**
 * Every option of loopguard/queue is validated before anything connects: these run on every
 * Node (no server is needed, none is reached: the URL points nowhere).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { FunctionNotPortableError, InvalidOptionRangeError, InvalidOptionTypeError } from 'loopguard';
import { createQueue, type Queue } from 'loopguard/queue';

const url = 'postgres://app:s3cret@127.0.0.1:1/nowhere';
const expectOptionError = (make: () => unknown, type: Function, message: RegExp | string): void => {
  let thrown: unknown;
  try {
    make();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(type);
  expect((thrown as { code?: string }).code).toBe('ERR_LOOPGUARD_INVALID_OPTION');
  expect((thrown as Error).message).toMatch(message);
};

describe('createQueue() options', () => {
  it('says a missing url may come from an unset environment variable', () => {
    expectOptionError(() => createQueue({ url: undefined, name: 'reports' }), InvalidOptionTypeError, /^url \(e\.g\. process\.env\.QUEUE_URL\) is undefined/);
    expectOptionError(() => createQueue(undefined as never), InvalidOptionTypeError, /createQueue\(\) needs options: \{ url, name \}/);
  });

  it('refuses a url that is not a string, not a URL, or of another scheme, never echoing its password', () => {
    expectOptionError(() => createQueue({ url: 5432 as never, name: 'reports' }), InvalidOptionTypeError, /url must be a non-empty string.*got `5432` \(number\)/);
    expectOptionError(() => createQueue({ url: '', name: 'reports' }), InvalidOptionTypeError, /url must be a non-empty string/);
    expectOptionError(() => createQueue({ url: 'localhost:5432', name: 'reports' }), InvalidOptionRangeError, /url must start with postgres:\/\//);
    expectOptionError(() => createQueue({ url: 'not a url', name: 'reports' }), InvalidOptionTypeError, /url must be a URL such as postgres:/);
    let message = '';
    try {
      createQueue({ url: 'mysql://app:s3cret@db/app', name: 'reports' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('mysql://app:***@db/app');
    expect(message).not.toContain('s3cret');
  });

  it('accepts postgres:, postgresql:, redis: and rediss: URLs without connecting', () => {
    for (const scheme of ['postgres', 'postgresql', 'redis', 'rediss']) {
      expect(createQueue({ url: `${scheme}://127.0.0.1:1/x`, name: 'reports' }).name).toBe('reports');
    }
  });

  it('refuses a missing or unusable name', () => {
    expectOptionError(() => createQueue({ url } as never), InvalidOptionTypeError, /name must be a non-empty string, got `undefined`/);
    expectOptionError(() => createQueue({ url, name: 'monthly reports' }), InvalidOptionTypeError, /name may only contain letters, digits/);
  });

  it.each([
    ['maxPayload', 0, InvalidOptionRangeError, /maxPayload must be an integer >= 1, got `0`/],
    ['maxPayload', '1mb', InvalidOptionTypeError, /maxPayload must be an integer >= 1, got `"1mb"` \(string\)/],
    ['retries', -1, InvalidOptionRangeError, /retries must be an integer from 0 to 1000, got `-1`/],
    ['retries', 1.5, InvalidOptionRangeError, /retries must be an integer/],
    ['retryDelay', -5, InvalidOptionRangeError, /retryDelay must be a number from 0 to 82800000/],
    ['timeout', 0, InvalidOptionRangeError, /timeout must be an integer from 1 to 82800000, got `0`/],
    ['timeout', Infinity, InvalidOptionRangeError, /timeout must be an integer from 1 to 82800000/],
    ['pollInterval', 1, InvalidOptionRangeError, /pollInterval must be a number from 10 to 60000, got `1`/],
    ['pollInterval', null, InvalidOptionTypeError, /pollInterval must be a number from 10 to 60000, got `null`/],
  ] as const)('refuses %s: %s', (option, value, type, message) => {
    expectOptionError(() => createQueue({ url, name: 'reports', [option]: value }), type, message);
  });

  it('refuses an unknown option, naming it', () => {
    expectOptionError(() => createQueue({ url, name: 'reports', retry: 3 } as never), InvalidOptionTypeError, /unknown option `retry`; known options are url, name/);
  });
});

describe('per-call options, checked before the server is reached', () => {
  let queue: Queue;
  let renderReport: (id: string) => Promise<string>;
  beforeAll(async () => {
    queue = createQueue({ url, name: 'reports' });
    ({ renderReport } = await import('../fixtures/queue/reports.mjs'));
  });

  it.each([
    [{ retries: -1 }, /retries must be an integer from 0 to 1000/],
    [{ retryDelay: 'soon' }, /retryDelay must be a number/],
    [{ timeout: 0 }, /timeout must be an integer from 1/],
    [{ key: '' }, /key must be a non-empty string/],
    [{ priority: 1.5 }, /priority must be an integer/],
    [{ delay: -1 }, /delay must be a number from 0/],
    [{ signal: {} }, /signal must be an AbortSignal/],
    [{ later: true }, /enqueue options has an unknown option `later`/],
  ])('enqueue() rejects %o', async (options, message) => {
    await expect(queue.enqueue(renderReport, ['7'], options as never)).rejects.toThrow(message);
  });

  it('enqueue() rejects arguments that are not an array, and a function that is not marked', async () => {
    await expect(queue.enqueue(renderReport, '7' as never)).rejects.toThrow(/args must be the array of renderReport's arguments/);
    await expect(queue.enqueue((() => 1) as never, [] as never)).rejects.toBeInstanceOf(FunctionNotPortableError);
    await expect(queue.enqueue('renderReport' as never, [] as never)).rejects.toThrow(/fn must be a function marked with threaded\(\)/);
    const { anonymousForPool } = await import('../fixtures/queue/reports.mjs');
    await expect(queue.enqueue(anonymousForPool, ['7'])).rejects.toThrow(/anonymous marked function's key is its place among its module's threaded\(\) calls \(#\d+\)/);
  });

  it('result() and status() reject an id that is not a string, and unknown options', async () => {
    await expect(queue.result(7 as never)).rejects.toThrow(/id must be a job id/);
    await expect(queue.status('' as never)).rejects.toThrow(/id must be a job id/);
    await expect(queue.result('x', { timeout: -1 })).rejects.toThrow(/timeout must be/);
    await expect(queue.result('x', { wait: 1 } as never)).rejects.toThrow(/unknown option `wait`/);
  });

  it('run() rejects at once with an aborted signal\'s reason', async () => {
    const controller = new AbortController();
    controller.abort(new Error('the request was cancelled'));
    await expect(queue.run(renderReport, ['7'], { signal: controller.signal })).rejects.toThrow('the request was cancelled');
  });
});

describe('threaded(fn, { queue })', () => {
  it('refuses a queue that is not a loopguard Queue, and combinations that cannot hold', async () => {
    const { markBadQueue, markWithPool, markAuto, markLongTimeout, markAnonymous } = await import('../fixtures/queue/bad-markings.mjs');
    expectOptionError(markBadQueue, InvalidOptionTypeError, /queue must be a Queue made by createQueue\(\) of loopguard\/queue, got `\[object Object\]`/);
    expectOptionError(markWithPool, InvalidOptionTypeError, /pool and queue cannot both be given/);
    expectOptionError(markAuto, InvalidOptionTypeError, /offload: 'auto' cannot be combined with queue/);
    expectOptionError(markLongTimeout, InvalidOptionRangeError, /timeout must be a number of ms from 1 to 82800000 \(a queue job's limit\) with queue/);
    expect(markAnonymous).toThrow(FunctionNotPortableError);
    expect(markAnonymous).toThrow(/a function marked for a queue needs a name, which its jobs carry/);
  });
});

describe('reportProgress()', () => {
  it('does nothing and answers false outside a queue job, and refuses a value that is not JSON', async () => {
    const { reportProgress } = await import('loopguard/queue');
    expect(reportProgress({ page: 1, of: 2 })).toBe(false);
    expect(() => reportProgress(1n)).toThrow(InvalidOptionTypeError);
    expect(() => reportProgress(1n)).toThrow(/^progress value must be JSON-serialisable, got `1` \(bigint\)/);
    expect(() => reportProgress(undefined)).toThrow(/progress value must be JSON-serialisable/);
  });
});
