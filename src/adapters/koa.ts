/**
 * loopguard/koa: `loopguard()` middleware that tags each request with its method and
 * @koa/router pattern, and `offload(fn)` to serve a route wholly from the thread pool.
 *
 * Only types come from koa, so importing this module loads no framework.
 */
import type { Context, Middleware, Next } from 'koa';
import { tagRequest } from '../request-tag.js';
import { checkOffloadFunction, jsonOf, nodeRequestInput, type OffloadFunction, type OffloadInput } from './offload.js';

export type { OffloadInput } from './offload.js';

type RoutedContext = Context & { _matchedRoute?: unknown; routerPath?: unknown; params?: Record<string, string> };

/**
 * Middleware that lets the monitor name the route a block happened in. Mount it first:
 * `app.use(loopguard())`. It adds no async context; it stores a getter on `ctx` (and on
 * `ctx.req`) that the monitor reads only while describing a block.
 */
export function loopguard(): Middleware {
  return function loopguardMiddleware(ctx: Context, next: Next): Promise<unknown> {
    tagRequest(ctx, {
      method: ctx.method,
      // Read at block time: @koa/router sets the matched pattern only once it has routed.
      get route() {
        return routePattern(ctx);
      },
    });
    return next();
  };
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
