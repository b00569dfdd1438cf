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
import { startFixture, type JsonLineProcess } from './fixture-process.js';

interface BlockEventLike {
  kind: string;
  duration: number;
  context?: Record<string, unknown>;
  stack: Array<{ function: string; file: string }>;
  /** Every distinct stack seen while it lasted (a stack taken late may show only what ran next). */
  stacks?: Array<Array<{ function: string; file: string }>>;
}

const FIXTURE = '../attribution/server.mjs';
// The same test as src/shared/request-context.ts makes: only the async_hooks implementation has `_propagate`.
const FRAME = !('_propagate' in AsyncLocalStorage.prototype);
const NEEDS_FRAME = 'skipped: needs Node ≥ 24 (AsyncContextFrame)';

function startServer(framework: string, ...extra: string[]): { server: JsonLineProcess; ready: Promise<string> } {
  const server = startFixture(FIXTURE, [framework, '50', ...extra]);
  return { server, ready: server.next('ready', 20_000).then((message) => String(message['url'])) };
}

/** The next block whose stack names the library: start-up work may block too, without it. */
async function blockInLibrary(server: JsonLineProcess): Promise<BlockEventLike> {
  const skipped: BlockEventLike[] = [];
  for (;;) {
    let event: BlockEventLike;
    try {
      // Wide: on a loaded host Nest's start-up blocks and the capture can take seconds.
      event = (await server.next('block', 25_000))['event'] as BlockEventLike;
    } catch (error) {
      throw new Error(`${(error as Error).message}\nevents skipped: ${JSON.stringify(skipped)}`, { cause: error });
    }
    const inLibrary = (stack: BlockEventLike['stack']): boolean => stack.some((frame) => frame.function === 'digestSync');
    if (inLibrary(event.stack) || event.stacks?.some(inLibrary) === true) return event;
    skipped.push(event);
    // A loaded host makes many short stalls of its own (no stack, cause 'host').
    if (skipped.length > 20) throw new Error(`no block in digestSync; events skipped: ${JSON.stringify(skipped)}`);
  }
}

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
