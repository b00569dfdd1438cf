/**
 * A block in a setImmediate continuation below the handler (issue 8, point 1): a login route
 * calls a service that awaits a repository and then a library's callback API, whose work runs
 * in a setImmediate callback (as bcryptjs's async functions do) and blocks for 300 ms. No
 * route frame and no request object is on that stack: only the per-request AsyncLocalStorage
 * context the adapters open (the monitor's `requestContext`, shared/request-context.ts) names
 * the route. It is on by default only where AsyncContextFrame backs AsyncLocalStorage.
 * Each server runs in a child process; requests come from here.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonLineProcess } from './fixture-process.js';
import { blockInLibrary as blockInDigest, startServer, type BlockEventLike } from './attribution-server.js';

// The same test as src/shared/request-context.ts makes: only the async_hooks implementation has `_propagate`.
const FRAME = !('_propagate' in AsyncLocalStorage.prototype);
const NEEDS_FRAME = 'skipped: needs Node ≥ 24 (AsyncContextFrame)';

/** Wide: on a loaded host Nest's start-up blocks and the capture can take seconds. */
const blockInLibrary = (server: JsonLineProcess): Promise<BlockEventLike> =>
  blockInDigest(server, { timeout: 25_000, skip: 20, anyStack: true });

/** One server, one request to `path`, the block's event. */
function blockOf(framework: string, path: string, extra: string[]): () => Promise<BlockEventLike> {
  let server: JsonLineProcess;
  let base: string;
  beforeAll(async () => {
    const started = startServer(framework, ...extra);
    server = started.server;
    base = await started.ready;
  });
  afterAll(async () => {
    await server?.stop();
  });
  return async () => {
    const response = await fetch(base + path);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ok: false });
    const event = await blockInLibrary(server);
    expect(event.duration).toBeGreaterThan(200);
    // The continuation's stack: the library's callback, nothing of the route or the app.
    const names = event.stack.map((frame) => frame.function);
    expect(names).not.toContain('checkUserPassword');
    expect(names.some((name) => name.includes('loopguard·route'))).toBe(false);
    return event;
  };
}

const cases = [
  { framework: 'express', path: '/shop/users/7/password', context: { method: 'GET', route: '/shop/users/:id/password' } },
  { framework: 'express4', path: '/shop/users/7/password', context: { method: 'GET', route: '/shop/users/:id/password' } },
  { framework: 'fastify', path: '/shop/users/7/password', context: { method: 'GET', route: '/shop/users/:id/password' } },
  { framework: 'koa', path: '/shop/users/7/password', context: { method: 'GET', route: '/shop/users/:id/password' } },
  { framework: 'hono', path: '/shop/users/7/password', context: { method: 'GET', route: '/shop/users/:id/password' } },
  { framework: 'nest-express', path: '/api/users/7/password', context: { method: 'GET', route: '/api/users/:id/password' } },
  { framework: 'nest-fastify', path: '/api/users/7/password', context: { method: 'GET', route: '/api/users/:id/password' } },
  { framework: 'http', path: '/users/7/password', context: { method: 'GET', path: '/users/7/password' } },
];

for (const { framework, path, context } of cases) {
  const what = 'route' in context ? 'route pattern' : 'path';
  describe.skipIf(!FRAME)(`a block in a setImmediate continuation on ${framework}, requestContext by default`, () => {
    const run = blockOf(framework, path, []);
    // Wide: on a loaded host Nest's first requests and the captures can take many seconds.
    it(`names the ${what}${FRAME ? '' : ` (${NEEDS_FRAME})`}`, { timeout: 60_000 }, async () => {
      expect((await run()).context).toMatchObject(context);
    });
  });
}

// The option itself, on either side of the default: on where it is off by default, off where on.
describe(`requestContext: ${String(!FRAME)} on Express (${FRAME ? 'AsyncContextFrame' : 'async_hooks'} here)`, () => {
  const run = blockOf('express', '/shop/users/7/password', [`request-context=${String(!FRAME)}`]);
  it(FRAME ? 'names no route: nothing but the context could' : 'names the route pattern on this Node too', { timeout: 60_000 }, async () => {
    const event = await run();
    if (FRAME) expect(event.context?.['route']).toBeUndefined();
    else expect(event.context).toMatchObject({ method: 'GET', route: '/shop/users/:id/password' });
  });
});

describe('requestContext is validated', () => {
  it('refuses a value other than auto, true or false, naming the option', async () => {
    const { startMonitor } = await import('loopguard');
    expect(() => startMonitor({ requestContext: 'yes' as never })).toThrow(
      /requestContext must be one of 'auto', true, false, got `"yes"` \(string\)/,
    );
  });
});
