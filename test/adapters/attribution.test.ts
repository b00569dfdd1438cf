/**
 * Attribution after awaits (issue 8, point 1): a route handler calls a service that awaits a
 * repository, which awaits a query and then runs a helper in another module that calls a
 * library under node_modules/ that blocks for 300 ms. The block is three calls and two awaits
 * below the handler, where no request object is in any paused frame's scope; the adapters'
 * named handler frames (src/shared/route-frames.ts) must still give the method and the route
 * pattern, on every framework. Each server runs in a child process; requests come from here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonLineProcess } from './fixture-process.js';
import { blockInLibrary as blockInDigest, startServer, type BlockEventLike } from './attribution-server.js';

const blockInLibrary = (server: JsonLineProcess): Promise<BlockEventLike> =>
  blockInDigest(server, { timeout: 15_000, skip: 8, anyStack: false });

const cases = [
  { framework: 'express', path: '/shop/users/7', context: { method: 'GET', route: '/shop/users/:id' } },
  { framework: 'express4', path: '/shop/users/7', context: { method: 'GET', route: '/shop/users/:id' } },
  { framework: 'fastify', path: '/shop/users/7', context: { method: 'GET', route: '/shop/users/:id' } },
  { framework: 'koa', path: '/shop/users/7', context: { method: 'GET', route: '/shop/users/:id' } },
  { framework: 'hono', path: '/shop/users/7', context: { method: 'GET', route: '/shop/users/:id' } },
  { framework: 'nest-express', path: '/api/users/7', context: { method: 'GET', route: '/api/users/:id' } },
  { framework: 'nest-fastify', path: '/api/users/7', context: { method: 'GET', route: '/api/users/:id' } },
  { framework: 'http', path: '/users/7', context: { method: 'GET', path: '/users/7' } },
];

for (const { framework, path, context } of cases) {
  describe(`attribution after awaits on ${framework}`, () => {
    let server: JsonLineProcess;
    let base: string;

    beforeAll(async () => {
      const started = startServer(framework);
      server = started.server;
      base = await started.ready;
      // Warm up (lazy compilation, mime tables) without blocking.
      await (await fetch(`${base}${path}?block=0`)).text();
    });
    afterAll(async () => {
      await server?.stop();
    });

    it(`names ${'route' in context ? 'the route pattern' : 'the path'} of a block two awaits below the handler, in another module`, async () => {
      const response = await fetch(base + path);
      expect(response.status).toBe(200);
      const event = await blockInLibrary(server);
      const names = event.stack.map((frame) => frame.function);
      expect(event.kind).toBe('block');
      expect(event.duration).toBeGreaterThan(200);
      expect(names).toContain('verifyChecksum');
      expect(event.context).toMatchObject(context);
      // The wrappers are loopguard's own frames: never shown.
      expect(names.some((name) => name.includes('loopguard·route'))).toBe(false);
    });
  });
}

for (const framework of ['express4', 'express']) {
  describe(`error handling is unchanged on ${framework}`, () => {
    let server: JsonLineProcess;
    let base: string;

    beforeAll(async () => {
      const started = startServer(framework);
      server = started.server;
      base = await started.ready;
      await (await fetch(`${base}/shop/users/1?block=0`)).text();
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('passes a sync throw in a route handler to the app error handler, with no unhandled rejection', async () => {
      const response = await fetch(`${base}/boom`);
      expect(response.status).toBe(418);
      expect(await response.json()).toEqual({ handledBy: 'app', message: 'sync boom' });
      // An unhandled rejection would be reported before this request's answer.
      await (await fetch(`${base}/shop/users/1?block=0`)).text();
      await expect(server.next('unhandled', 500)).rejects.toThrow(/no "unhandled" message/);
    });

    it('still recognises route-level error middleware by its four parameters', async () => {
      const response = await fetch(`${base}/boom-next`);
      expect(response.status).toBe(419);
      expect(await response.json()).toEqual({ handledBy: 'route', message: 'passed to next' });
    });
  });
}

describe('a sync call after awaits in an Express route', () => {
  let server: JsonLineProcess;
  let base: string;

  beforeAll(async () => {
    const started = startServer('express', 'sync-calls');
    server = started.server;
    base = await started.ready;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('is reported with its route and without loopguard\'s route frames in its stack', async () => {
    const response = await fetch(`${base}/shop/settings`);
    expect(response.status).toBe(200);
    let event: BlockEventLike;
    do event = (await server.next('block', 15_000))['event'] as BlockEventLike;
    while (event.kind !== 'sync-call');
    const names = event.stack.map((frame) => frame.function);
    expect(names).toContain('readSettings');
    expect(names.some((name) => name.includes('loopguard·route'))).toBe(false);
    expect(event.context).toMatchObject({ method: 'GET', route: '/shop/settings' });
  });
});
