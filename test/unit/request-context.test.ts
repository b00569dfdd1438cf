/**
 * The adapters' per-request context (src/shared/request-context.ts): a handler runs in a
 * `{ method, route }` store while the switch is on, which follows a setImmediate below it;
 * nothing changes while it is off; the user's own context around the request wins; a sync
 * handler stays sync.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { currentContext, withContext } from '../../src/context.js';
import { callInRequest, openRequestContexts, requestContextsOn } from '../../src/shared/request-context.js';

let close: (() => void) | undefined;
afterEach(() => {
  close?.();
  close = undefined;
});

/** A handler whose work goes on in a setImmediate callback, as bcrypt's async API does. */
function handler(): Promise<unknown> {
  return new Promise((resolve) => setImmediate(() => resolve(currentContext())));
}

describe('a per-request context', () => {
  it('follows a setImmediate continuation below the handler while it is on', async () => {
    close = openRequestContexts(true);
    expect(requestContextsOn()).toBe(true);
    const seen = await callInRequest({ method: 'GET', route: '/users/:id' }, handler, undefined, []);
    expect(seen).toEqual({ method: 'GET', route: '/users/:id' });
  });

  it('is not opened with requestContext false, nor once the monitor has closed it', async () => {
    close = openRequestContexts(false);
    expect(await callInRequest({ method: 'GET', route: '/a' }, handler, undefined, [])).toBeUndefined();
    close();
    close = openRequestContexts(true);
    close();
    close = undefined;
    expect(requestContextsOn()).toBe(false);
    expect(await callInRequest({ method: 'GET', route: '/a' }, handler, undefined, [])).toBeUndefined();
  });

  it("keeps the user's own context around the request, key by key, and replaces an outer request's", async () => {
    close = openRequestContexts(true);
    const mine = await withContext({ name: 'checkout', route: '/mine' }, () =>
      callInRequest({ method: 'POST', route: '/orders' }, handler, undefined, []),
    );
    expect(mine).toEqual({ name: 'checkout', method: 'POST', route: '/mine' });
    const nested = await callInRequest(
      { method: 'GET', path: '/outer' },
      () => callInRequest({ method: 'GET', route: '/inner/:id' }, handler, undefined, []),
      undefined,
      [],
    );
    expect(nested).toEqual({ method: 'GET', route: '/inner/:id' });
  });

  it('keeps a sync handler sync: its value returned, its throw thrown, `this` and arguments passed', () => {
    close = openRequestContexts(true);
    const self = { n: 2 };
    expect(callInRequest({}, function (this: typeof self, a: number) { return this.n * a; } as never, self, [21])).toBe(42);
    expect(() =>
      callInRequest({}, (() => {
        throw new Error('sync');
      }) as never, undefined, []),
    ).toThrow('sync');
  });
});
