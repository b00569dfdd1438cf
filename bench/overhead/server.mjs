// One hello-world service in its own process, loaded from the driver over 127.0.0.1.
// argv: <service: http|express|fastify|nestjs|nestjs-fastify|koa|hono> <variant>. Talks to the
// driver over the IPC channel:
//   → { type: 'ready', port } | { type: 'unavailable', reason }
//   ← { type: 'start' }  → { type: 'started' }   (opens the measured window)
//   ← { type: 'stop' }   → { type: 'window', cpuUs, requests, blocks, rss }
// CPU is read here, inside the server, so the load generator's own cost never counts.
import http from 'node:http';
import { AsyncLocalStorage } from 'node:async_hooks';
import { installVariant, loadAdapter, VariantUnavailable } from './variants.mjs';

const [service, variant] = process.argv.slice(2);
const AWAITS = 5;

let served = 0;

// A small async chain per request, like a handler that awaits a cache, a DB call, a render:
// the awaits are what async_hooks-based tools pay for.
async function work() {
  let body = 'hello world\n';
  for (let i = 0; i < AWAITS; i += 1) body = await Promise.resolve(body);
  return body;
}

async function hello() {
  const body = await work();
  served += 1;
  return body;
}

function pathOf(url) {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Limits a hello service never reaches: what shed() costs a request that it lets through. */
const SHED_OPTIONS = { maxDelay: 200, maxUtilization: 0.99, window: 5000, health: '/health' };

const adapter = variant === 'loopguard+adapter' || variant === 'loopguard+als';
// `loopguard+als`: one AsyncLocalStorage.run per request, entered first thing, as an app (or an
// APM agent) with a per-request context does; the adapter is on as well.
const als = variant === 'loopguard+als' ? new AsyncLocalStorage() : undefined;
const storeOf = (method, url) => ({ method, path: pathOf(url) });

// `state` is the installed variant; set after the app is built (see below), read per request
// only by loopguard+ctx.
let state;

async function buildHttp() {
  const listener = (req, res) => {
    hello().then((body) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
      res.end(body);
    });
  };
  let handler = listener;
  if (adapter) handler = (await loadAdapter('http')).wrap(listener);
  if (als !== undefined) {
    const inner = handler;
    handler = (req, res) => als.run(storeOf(req.method, req.url), inner, req, res);
  }
  if (variant === 'loopguard+shed') {
    const guard = (await loadAdapter('http')).shed(SHED_OPTIONS);
    handler = (req, res) => {
      if (!guard(req, res)) listener(req, res);
    };
  }
  if (variant === 'loopguard+ctx') {
    handler = (req, res) => state.withRequest({ method: req.method, path: pathOf(req.url) }, () => listener(req, res));
  }
  const server = http.createServer(handler);
  return async () => {
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    return server.address().port;
  };
}

async function buildExpress() {
  const { default: express } = await import('express');
  const app = express();
  if (als !== undefined) app.use((req, _res, next) => als.run(storeOf(req.method, req.url), next));
  if (adapter) app.use((await loadAdapter('express')).loopguard());
  app.get('/hello', async (_req, res) => {
    res.type('text/plain').send(await hello());
  });
  return async () => {
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    return server.address().port;
  };
}

// Build Fastify's app (and compile its router, `ready()`) before any variant starts: that
// start-up work blocks the loop for 100–300 ms on a busy host, which the monitor rightly
// reports, but start-up is not what this benchmark is about.
async function buildFastify() {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  if (als !== undefined) app.addHook('onRequest', (req, _reply, done) => als.run(storeOf(req.method, req.url), done));
  // Registered before the routes, as its README says: onRoute wraps each handler once.
  if (adapter) await app.register((await loadAdapter('fastify')).loopguard);
  if (variant === 'loopguard+shed') await app.register((await loadAdapter('fastify')).shed(SHED_OPTIONS));
  if (variant === 'loopguard+ctx') {
    app.addHook('onRequest', (req, _reply, done) => {
      state.withRequest({ method: req.method, path: pathOf(req.url) }, done);
    });
  }
  app.get('/hello', hello);
  await app.ready();
  return async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    return app.server.address().port;
  };
}

// A Nest controller written without decorator syntax (plain .mjs), the decorators applied by
// hand as TypeScript's emitted code applies them.
async function buildNest(platform) {
  await import('reflect-metadata');
  const { Controller, Get, Module, Header } = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  class HelloController {
    async hello() {
      return hello();
    }
  }
  const descriptor = Object.getOwnPropertyDescriptor(HelloController.prototype, 'hello');
  Reflect.decorate([Get('hello'), Header('content-type', 'text/plain')], HelloController.prototype, 'hello', descriptor);
  Reflect.decorate([Controller()], HelloController);
  const imports = adapter ? [(await loadAdapter('nestjs')).LoopguardModule.forRoot()] : [];
  class AppModule {}
  Reflect.decorate([Module({ imports, controllers: [HelloController] })], AppModule);
  let app;
  if (platform === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    const fastifyAdapter = new FastifyAdapter();
    if (als !== undefined) {
      fastifyAdapter.getInstance().addHook('onRequest', (req, _reply, done) => als.run(storeOf(req.method, req.url), done));
    }
    app = await NestFactory.create(AppModule, fastifyAdapter, { logger: false });
  } else {
    app = await NestFactory.create(AppModule, { logger: false });
    // Nest's Express app exists before the module's routes: the context is entered first.
    if (als !== undefined) app.use((req, _res, next) => als.run(storeOf(req.method, req.url), next));
  }
  await app.init();
  return async () => {
    await app.listen(0, '127.0.0.1');
    return app.getHttpServer().address().port;
  };
}

async function buildKoa() {
  const { default: Koa } = await import('koa');
  const { default: Router } = await import('@koa/router');
  const app = new Koa();
  if (als !== undefined) app.use((ctx, next) => als.run(storeOf(ctx.method, ctx.url), next));
  if (adapter) app.use((await loadAdapter('koa')).loopguard());
  const router = new Router();
  router.get('/hello', async (ctx) => {
    ctx.body = await hello();
  });
  app.use(router.routes());
  const server = http.createServer(app.callback());
  return async () => {
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    return server.address().port;
  };
}

async function buildHono() {
  const { Hono } = await import('hono');
  const { serve } = await import('@hono/node-server');
  const app = new Hono();
  if (als !== undefined) app.use((c, next) => als.run(storeOf(c.req.method, c.req.path), next));
  if (adapter) app.use((await loadAdapter('hono')).loopguard());
  app.get('/hello', async (c) => c.text(await hello()));
  return () => new Promise((resolve) => {
    serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port));
  });
}

const builders = {
  http: buildHttp,
  express: buildExpress,
  fastify: buildFastify,
  nestjs: () => buildNest('express'),
  'nestjs-fastify': () => buildNest('fastify'),
  koa: buildKoa,
  hono: buildHono,
};

function unavailable(reason) {
  process.send({ type: 'unavailable', reason });
  process.disconnect();
  process.exit(0);
}

// shed and ctx are wired for node:http and Fastify only.
if ((variant === 'loopguard+shed' || variant === 'loopguard+ctx') && service !== 'http' && service !== 'fastify') {
  unavailable(`${variant} is measured on http and fastify only`);
}
// Nest creates its server (and adds the listener) while the app is built, before the variant.
if (variant === 'zero-code' && service !== 'http' && service !== 'express') {
  unavailable('zero-code is measured on http and express only (the others add their listener before the variant starts)');
}
if (builders[service] === undefined) throw new Error(`unknown service ${JSON.stringify(service)}`);

// The app is built (routes compiled, Nest's modules resolved) before the variant starts.
const listen = await builders[service]();

try {
  state = await installVariant(variant);
} catch (error) {
  if (!(error instanceof VariantUnavailable)) throw error;
  unavailable(error.message);
}
const port = await listen();

let window;
process.on('message', (message) => {
  if (message.type === 'start') {
    window = { cpu: process.cpuUsage(), served, blocks: state.blocks() };
    process.send({ type: 'started' });
  } else if (message.type === 'stop') {
    const cpu = process.cpuUsage(window.cpu);
    process.send({
      type: 'window',
      cpuUs: cpu.user + cpu.system,
      requests: served - window.served,
      blocks: state.blocks() - window.blocks,
      totalBlocks: state.blocks(),
      rss: process.memoryUsage().rss,
    });
  }
});
// The driver ends a run by closing the channel; nothing else has to be cleaned up.
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready', port });
