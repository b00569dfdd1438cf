/**
 * offload(fn) on every framework, with marked functions running in the real pool: the input
 * must cross to a worker by structured clone, and errors come back rebuilt with their own
 * properties (`status`), as the frameworks' error handling needs them.
 */
import { createServer, type Server } from 'node:http';
import { describe, expect, it } from 'vitest';
import express5 from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import Koa from 'koa';
import Router from '@koa/router';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { offload as expressOffload } from 'loopguard/express';
import { offload as fastifyOffload } from 'loopguard/fastify';
import { offload as koaOffload } from 'loopguard/koa';
import { offload as honoOffload } from 'loopguard/hono';
import { offload as httpOffload } from 'loopguard/http';
import type { OffloadInput } from 'loopguard/express';
import { closeAfterEach, getJson } from './helpers.js';

import { echo, fail, greeting } from '../fixtures/adapters/echo-tasks.mjs';

const { servers, fastifies, serveNode } = closeAfterEach();

type Offload = (fn: (input: OffloadInput) => unknown) => unknown;
const apps: Record<string, () => Promise<string>> = {
  'Express 5': async () => {
    const app = express5();
    app.get('/echo/:id', expressOffload(echo));
    app.post('/echo/:id', expressOffload(echo));
    app.get('/fail/:status', expressOffload(fail));
    app.get('/greeting', expressOffload(greeting));
    return serveNode(app);
  },
  'Express 4 with express.json()': async () => {
    const app = express4();
    app.use(express4.json());
    app.get('/echo/:id', expressOffload(echo));
    app.post('/echo/:id', expressOffload(echo));
    app.get('/fail/:status', expressOffload(fail));
    app.get('/greeting', expressOffload(greeting));
    return serveNode(app as unknown as Parameters<typeof createServer>[1]);
  },
  Fastify: async () => {
    const app = Fastify();
    fastifies.push(app);
    app.get('/echo/:id', fastifyOffload(echo));
    app.post('/echo/:id', fastifyOffload(echo));
    app.get('/fail/:status', fastifyOffload(fail));
    app.get('/greeting', fastifyOffload(greeting));
    return app.listen({ port: 0, host: '127.0.0.1' });
  },
  Koa: async () => {
    const app = new Koa();
    const router = new Router();
    router.get('/echo/:id', koaOffload(echo));
    router.post('/echo/:id', koaOffload(echo));
    router.get('/fail/:status', koaOffload(fail));
    router.get('/greeting', koaOffload(greeting));
    app.silent = true;
    app.use(router.routes());
    return serveNode(app.callback());
  },
  Hono: async () => {
    const app = new Hono();
    app.get('/echo/:id', honoOffload(echo));
    app.post('/echo/:id', honoOffload(echo));
    app.get('/fail/:status', honoOffload(fail));
    app.get('/greeting', honoOffload(greeting));
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    servers.push(server);
    await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', resolve)));
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  },
};

for (const [name, start] of Object.entries(apps)) {
  describe(`offload() on ${name}`, () => {
    it('passes params, query and headers as plain copies and sends the result as JSON', async () => {
      const { status, body, type } = await getJson(`${await start()}/echo/42?tag=a&tag=b&page=2`, {
        headers: { 'x-agent': 'test' },
      });
      expect(status).toBe(200);
      expect(type).toMatch(/^application\/json/);
      expect(body).toEqual({ params: { id: '42' }, query: { tag: expect.anything(), page: '2' }, body: null, agent: 'test' });
    });

    it('passes a JSON request body', async () => {
      const { status, body } = await getJson(`${await start()}/echo/1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ items: [1, 2, 3] }),
      });
      expect(status).toBe(200);
      expect((body as { body: unknown }).body).toEqual({ items: [1, 2, 3] });
    });

    it("answers with the error's status when it has one", async () => {
      const { status } = await getJson(`${await start()}/fail/418`);
      expect(status).toBe(418);
    });

    it('answers 500 for an error without a status', async () => {
      const { status } = await getJson(`${await start()}/fail/0`);
      expect(status).toBe(500);
    });

    it('sends a string result as JSON too', async () => {
      const { status, body, type } = await getJson(`${await start()}/greeting`);
      expect(status).toBe(200);
      expect(type).toMatch(/^application\/json/);
      expect(body).toBe('hello');
    });
  });
}

describe('offload() on node:http', () => {
  it('answers with the JSON result, the query parsed from the URL', async () => {
    const { status, body } = await getJson(`${await serveNode(httpOffload(echo))}/anything?tag=a&tag=b`);
    expect(status).toBe(200);
    expect(body).toEqual({ params: {}, query: { tag: ['a', 'b'] }, body: null });
  });

  it("answers an error with its status and message, 5xx without the message", async () => {
    const url = await serveNode(httpOffload(fail));
    expect(await getJson(`${url}/?status=404`)).toMatchObject({ status: 404, body: { error: 'failed with 404' } });
    expect(await getJson(`${url}/?status=503`)).toMatchObject({ status: 503, body: { error: 'Internal Server Error' } });
  });
});

describe('offload() errors on its own terms', () => {
  it('refuses a body over 1 MiB that it reads itself with 413', async () => {
    const { status } = await getJson(`${await apps['Express 5']!()}/echo/1`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x'.repeat(1024 * 1024 + 1),
    });
    expect(status).toBe(413);
  });

  it('hands an error to a custom Hono onError with its status intact', async () => {
    const app = new Hono();
    app.get('/fail/:status', honoOffload(fail));
    app.onError((error, c) => c.json({ seen: (error as Error & { status?: number }).status }, 299 as 200));
    const response = await app.request('/fail/409');
    expect(await response.json()).toEqual({ seen: 409 });
  });

  it('rejects a value that is not a function, naming it', () => {
    for (const offload of [expressOffload, fastifyOffload, koaOffload, honoOffload, httpOffload] as Offload[]) {
      expect(() => offload('renderReport' as never)).toThrow(/fn must be a function, got/);
    }
  });

  it('rejects a function not marked with threaded(), which would run on the loop', () => {
    function renderReport(): unknown {
      return {};
    }
    for (const offload of [expressOffload, fastifyOffload, koaOffload, honoOffload, httpOffload] as Offload[]) {
      expect(() => offload(renderReport)).toThrow(/fn must be a function marked with threaded\(\), got renderReport/);
    }
  });
});
