/**
 * The monitor describes a block by calling describeRequest on the request object it finds in
 * the paused handler's scope. These tests capture that object in real handlers and describe
 * it at the two moments that matter: at once, and after an await.
 */
import type { Server } from 'node:http';
import { describe, expect, it } from 'vitest';
import express5 from 'express';
import express4 from 'express4';
import Fastify from 'fastify';
import Koa from 'koa';
import Router from '@koa/router';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { loopguard as expressLoopguard } from 'loopguard/express';
import { loopguard as fastifyLoopguard } from 'loopguard/fastify';
import { loopguard as koaLoopguard } from 'loopguard/koa';
import { loopguard as honoLoopguard } from 'loopguard/hono';
import { wrap } from 'loopguard/http';
import { describeRequest } from '../../src/request-tag.js';
import { closeAfterEach, getJson, tick } from './helpers.js';

async function describedTwice(request: object): Promise<{ atOnce: unknown; afterAwait: unknown }> {
  const atOnce = describeRequest(request);
  await tick();
  return { atOnce, afterAwait: describeRequest(request) };
}

const { servers, fastifies, serveNode } = closeAfterEach();

const userContext = { method: 'GET', route: '/users/:id', path: '/users/7' };
const shopContext = { method: 'GET', route: '/shop/items/:sku', path: '/shop/items/a1' };

for (const [name, express] of [
  ['Express 5', express5],
  ['Express 4', express4 as unknown as typeof express5],
] as const) {
  describe(name, () => {
    async function app(): Promise<string> {
      const application = express();
      application.use(expressLoopguard());
      application.get('/users/:id', async (req, res) => {
        res.json(await describedTwice(req));
      });
      const shop = express.Router();
      shop.get('/items/:sku', async (req, res) => {
        res.json(await describedTwice(req));
      });
      const admin = express.Router();
      admin.get('/', async (req, res) => {
        res.json(await describedTwice(req));
      });
      shop.use('/admin', admin);
      application.use('/shop', shop);
      const shops = express.Router();
      const orders = express.Router();
      orders.get('/:orderId', async (req, res) => {
        res.json(await describedTwice(req));
      });
      shops.use('/orders', orders);
      shops.get('/items/:sku', async (req, res) => {
        res.json(await describedTwice(req));
      });
      application.use('/shops/:shopId', shops);
      application.use('/regions/:region/shops/:shopId', shops);
      application.get('/plain', (req, res) => {
        res.json({ atOnce: describeRequest(req) });
      });
      return serveNode(application);
    }

    it('describes a request with its method and route pattern, at once and after an await', async () => {
      const { body } = await getJson(`${await app()}/users/7?secret=1`);
      expect(body).toEqual({ atOnce: userContext, afterAwait: userContext });
    });

    it('includes the mount path of a router mounted at /shop', async () => {
      const { body } = await getJson(`${await app()}/shop/items/a1`);
      expect(body).toEqual({ atOnce: shopContext, afterAwait: shopContext });
    });

    it('names the parameters of a mount path instead of their values', async () => {
      const { body } = await getJson(`${await app()}/shops/42/items/a1`);
      const expected = { method: 'GET', route: '/shops/:shopId/items/:sku', path: '/shops/42/items/a1' };
      expect(body).toEqual({ atOnce: expected, afterAwait: expected });
    });

    it('names the parameters of every mount of nested routers, picking the mount that matched', async () => {
      const { body } = await getJson(`${await app()}/regions/eu/shops/42/orders/9`);
      const expected = {
        method: 'GET',
        route: '/regions/:region/shops/:shopId/orders/:orderId',
        path: '/regions/eu/shops/42/orders/9',
      };
      expect(body).toEqual({ atOnce: expected, afterAwait: expected });
    });

    it('includes every mount path of nested routers', async () => {
      const { body } = await getJson(`${await app()}/shop/admin`);
      const expected = { method: 'GET', route: '/shop/admin', path: '/shop/admin' };
      expect(body).toEqual({ atOnce: expected, afterAwait: expected });
    });
  });
}

describe('Fastify', () => {
  async function app(): Promise<string> {
    const fastify = Fastify();
    fastifies.push(fastify);
    await fastify.register(fastifyLoopguard);
    // Registered in an encapsulated child: the plugin must reach it anyway.
    await fastify.register(
      async (child) => {
        child.get('/items/:sku', async (request) => describedTwice(request));
      },
      { prefix: '/shop' },
    );
    fastify.get('/users/:id', async (request) => describedTwice(request));
    return fastify.listen({ port: 0, host: '127.0.0.1' });
  }

  it('describes a request with its method and route pattern, at once and after an await', async () => {
    const { body } = await getJson(`${await app()}/users/7`);
    expect(body).toEqual({ atOnce: userContext, afterAwait: userContext });
  });

  it('includes the prefix of an encapsulated plugin', async () => {
    const { body } = await getJson(`${await app()}/shop/items/a1`);
    expect(body).toEqual({ atOnce: shopContext, afterAwait: shopContext });
  });

  it('tags the raw node:http request as well, for frames that only hold request.raw', async () => {
    const fastify = Fastify();
    fastifies.push(fastify);
    await fastify.register(fastifyLoopguard);
    fastify.get('/users/:id', async (request) => describeRequest(request.raw) ?? null);
    const { body } = await getJson(`${await fastify.listen({ port: 0, host: '127.0.0.1' })}/users/7`);
    expect(body).toEqual(userContext);
  });
});

describe('Koa with @koa/router', () => {
  async function app(): Promise<string> {
    const koa = new Koa();
    koa.use(koaLoopguard());
    const router = new Router();
    router.get('/users/:id', async (ctx) => {
      ctx.body = await describedTwice(ctx);
    });
    const shop = new Router({ prefix: '/shop' });
    shop.get('/items/:sku', async (ctx) => {
      ctx.body = await describedTwice(ctx);
    });
    koa.use(router.routes()).use(shop.routes());
    return serveNode(koa.callback());
  }

  it('describes a request with its method and route pattern, at once and after an await', async () => {
    const { body } = await getJson(`${await app()}/users/7`);
    expect(body).toEqual({ atOnce: userContext, afterAwait: userContext });
  });

  it('includes the prefix of a router', async () => {
    const { body } = await getJson(`${await app()}/shop/items/a1`);
    expect(body).toEqual({ atOnce: shopContext, afterAwait: shopContext });
  });

  it('tags ctx.req as well, for frames that only hold the node:http request', async () => {
    const koa = new Koa();
    koa.use(koaLoopguard());
    const router = new Router();
    router.get('/users/:id', (ctx) => {
      ctx.body = describeRequest(ctx.req) ?? null;
    });
    koa.use(router.routes());
    const { body } = await getJson(`${await serveNode(koa.callback())}/users/7`);
    expect(body).toEqual(userContext);
  });
});

describe('Hono on @hono/node-server', () => {
  async function app(): Promise<string> {
    const hono = new Hono();
    hono.use(honoLoopguard());
    hono.get('/users/:id', async (c) => c.json(await describedTwice(c)));
    const shop = new Hono();
    shop.get('/items/:sku', async (c) => c.json(await describedTwice(c)));
    hono.route('/shop', shop);
    const server = serve({ fetch: hono.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    servers.push(server);
    await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', resolve)));
    const address = server.address() as { port: number };
    return `http://127.0.0.1:${address.port}`;
  }

  it('describes a request with its method and route pattern, at once and after an await', async () => {
    const { body } = await getJson(`${await app()}/users/7`);
    expect(body).toEqual({ atOnce: userContext, afterAwait: userContext });
  });

  it('includes the base path of an app mounted with route()', async () => {
    const { body } = await getJson(`${await app()}/shop/items/a1`);
    expect(body).toEqual({ atOnce: shopContext, afterAwait: shopContext });
  });
});

describe('node:http wrap()', () => {
  it('tags the request with its method and the route the application names', async () => {
    const url = await serveNode(
      wrap(
        async (req, res) => {
          res.end(JSON.stringify(await describedTwice(req)));
        },
        { route: (req) => (req.url?.startsWith('/users/') ? '/users/:id' : undefined) },
      ),
    );
    const { body } = await getJson(`${url}/users/7`);
    expect(body).toEqual({ atOnce: userContext, afterAwait: userContext });
  });
});
