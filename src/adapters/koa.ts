/**
 * loopguard/koa: `loopguard()` middleware that tags each request with its method and
 * @koa/router pattern, and `offload(fn)` to serve a route wholly from the thread pool.
 *
 * Only types come from koa, so importing this module loads no framework.
 */
import type { Context, Middleware, Next } from 'koa';
import { tagNodeRequest } from '../request-tag.js';
import { isRouteWrapped, wrapRouteHandler } from '../shared/route-frames.js';
import { ListGrowth } from './list-growth.js';
import { checkOffloadFunction, jsonOf, nodeRequestInput, type OffloadFunction, type OffloadInput } from './offload.js';
import { Shedder, type ShedOptions } from '../telemetry/shed.js';
import {
  checkEnqueueRoute,
  checkRouteQueue,
  enqueueAnswer,
  statusAnswer,
  type EnqueueRouteOptions,
  type RouteQueue,
} from './queue-routes.js';

export type { EnqueueRouteOptions, RouteQueue } from './queue-routes.js';

export type { ShedOptions } from '../telemetry/shed.js';

export type { OffloadInput } from './offload.js';

type RoutedContext = Context & { _matchedRoute?: unknown; routerPath?: unknown; params?: Record<string, string> };

/**
 * The tag on a Koa request (request-tag.ts), stored on `ctx.req`, from which the monitor
 * reaches it whether a frame holds `ctx` or only the node:http request. Read at block time:
 * @koa/router sets the matched pattern only once it has routed.
 */
class KoaTag {
  constructor(readonly ctx: Context) {}
  get method(): string {
    return this.ctx.method;
  }
  get route(): string | undefined {
    return routePattern(this.ctx);
  }
}

/**
 * Middleware that lets the monitor name the route a block happened in. Mount it first:
 * `app.use(loopguard())`. It adds no async context; it stores a tag on `ctx.req` whose getter
 * the monitor reads only while describing a block. The @koa/router routes
 * of the app are put, once each, inside a frame named after their route, so a block after any
 * `await` chain below a handler still names its route.
 */
export function loopguard(): Middleware {
  return function loopguardMiddleware(ctx: Context, next: Next): Promise<unknown> {
    wrapKoaRoutes(ctx.app);
    tagNodeRequest(ctx.req, new KoaTag(ctx));
    return next();
  };
}

interface RouterLayer {
  path?: unknown;
  methods?: unknown;
  stack?: unknown;
}

const growth = new ListGrowth();

/**
 * Wrap the functions of every @koa/router route (not `router.use()` middleware) of `app`'s
 * routers. Koa has no hook for routes being added: the app's middleware is walked on the first
 * request and again when it has grown, and `router.routes()` carries its router as `.router`.
 * Routes added to a router after the first request are not seen.
 */
function wrapKoaRoutes(app: { middleware?: unknown } | undefined): void {
  try {
    const middleware = app?.middleware;
    if (!Array.isArray(middleware) || !growth.changed(middleware)) return;
    for (const fn of middleware as Array<{ router?: { stack?: unknown } }>) {
      const stack = fn?.router?.stack;
      if (Array.isArray(stack)) for (const layer of stack as RouterLayer[]) wrapLayer(layer);
    }
  } catch {
    // a router shaped otherwise: attribution falls back to the request tag
  }
}

function wrapLayer(layer: RouterLayer): void {
  if (!Array.isArray(layer.methods) || layer.methods.length === 0 || !Array.isArray(layer.stack)) return;
  // GET routes also answer HEAD: the route is named after the one method it was declared with.
  const methods = (layer.methods as unknown[]).map(String).filter((method) => method !== 'HEAD');
  const entry = { method: methods.length === 1 ? methods[0] : undefined, route: String(layer.path) };
  const stack = layer.stack as unknown[];
  for (let index = 0; index < stack.length; index++) {
    const fn = stack[index];
    if (typeof fn === 'function' && !isRouteWrapped(fn)) stack[index] = wrapRouteHandler(fn as (...args: never[]) => unknown, entry);
  }
}

/** The @koa/router pattern that matched, router prefixes included, or undefined. */
export function routePattern(ctx: Context): string | undefined {
  const routed = ctx as RoutedContext;
  const pattern = routed._matchedRoute ?? routed.routerPath;
  return pattern === undefined || pattern === null ? undefined : String(pattern);
}

/**
 * Serve a route from the thread pool: `router.get('/report/:id', offload(renderReport))`,
 * where `renderReport = threaded(function renderReport({ params, query, body, headers }) {...})`.
 * The result is sent as JSON; an error is thrown into Koa's error handling, which answers
 * with its `status`/`statusCode`, else 500.
 */
export function offload<P = Record<string, string>, Q = Record<string, unknown>, B = unknown>(
  fn: OffloadFunction<P, Q, B>,
): Middleware {
  checkOffloadFunction(fn);
  return async function offloadedRoute(ctx: Context): Promise<void> {
    // A body parser leaves ctx.request.body set; without one, the body is read here.
    const parsed = (ctx.request as { body?: unknown }).body;
    const input = await nodeRequestInput(ctx.req, parsed, (ctx as RoutedContext).params, ctx.query);
    const result = await fn(input as OffloadInput<P, Q, B>);
    ctx.type = 'application/json';
    ctx.body = jsonOf(result);
  };
}

/**
 * Middleware answering 503 with `Retry-After` while the loop is overloaded (limits over a
 * sliding window), and serving `health` for probes: `app.use(shed({ maxDelay: 200 }))`,
 * mounted first. Options are validated here; `onShed` receives the Koa `ctx`.
 */
export function shed(options: ShedOptions): Middleware {
  const shedder = new Shedder(options);
  return function loopguardShed(ctx: Context, next: Next): Promise<unknown> {
    const answer = shedder.decide(ctx.method, ctx.path, ctx);
    if (answer === undefined) return next();
    ctx.set(answer.headers);
    ctx.status = answer.status;
    // Koa answers HEAD without a body by itself; the empty string keeps the JSON type set above.
    ctx.body = answer.body ?? '';
    return Promise.resolve();
  };
}

/**
 * Store a job for `fn(input)` on the queue `fn` was marked with (`threaded(fn, { queue })`, or `options.queue`) and answer at once with
 * `202 { id, state: 'queued', statusUrl }`: `router.post('/reports', enqueue(renderReport))`.
 * `input` is offload()'s; `statusUrl` is by default the request's path + `/<id>`.
 */
export function enqueue<P = Record<string, string>, Q = Record<string, unknown>, B = unknown>(
  fn: OffloadFunction<P, Q, B>,
  options?: EnqueueRouteOptions<P, Q, B>,
): Middleware {
  const route = checkEnqueueRoute(fn, options);
  return async function enqueueRoute(ctx: Context): Promise<void> {
    const parsed = (ctx.request as { body?: unknown }).body;
    const input = await nodeRequestInput(ctx.req, parsed, (ctx as RoutedContext).params, ctx.query);
    const answer = await enqueueAnswer(fn, input, ctx.path, route);
    ctx.set(answer.headers);
    ctx.status = answer.status;
    ctx.body = answer.body;
  };
}

/** Serve `GET …/:id` with `queue.status(id)` as JSON, 404 for an unknown id: `router.get('/jobs/:id', jobStatus(queue))`. */
export function jobStatus(queue: RouteQueue): Middleware {
  checkRouteQueue('queue', queue);
  return async function jobStatusRoute(ctx: Context): Promise<void> {
    const answer = await statusAnswer(queue, ((ctx as RoutedContext).params as Record<string, string | undefined> | undefined)?.['id']);
    ctx.set(answer.headers);
    ctx.status = answer.status;
    ctx.body = answer.body;
  };
}
