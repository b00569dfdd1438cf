/**
 * loopguard/koa: `loopguard()` middleware that tags each request with its method and
 * @koa/router pattern, and `offload(fn)` to serve a route wholly from the thread pool.
 *
 * Only types come from koa, so importing this module loads no framework.
 */
import type { Context, Middleware, Next } from 'koa';
import { tagRequest } from '../request-tag.js';
import {
  checkOffloadFunction,
  cloneable,
  hasBody,
  jsonOf,
  plainHeaders,
  readBody,
  type OffloadFunction,
  type OffloadInput,
} from './offload.js';

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
    const routed = ctx as RoutedContext;
    // A body parser leaves ctx.request.body set; without one, read the body here.
    const parsed = (ctx.request as { body?: unknown }).body;
    const body = !hasBody(ctx.req.headers) ? undefined : parsed !== undefined ? parsed : await readBody(ctx.req, ctx.req.headers);
    const input: OffloadInput = {
      params: cloneable(routed.params ?? {}) as Record<string, string>,
      query: cloneable(ctx.query) as Record<string, unknown>,
      body: cloneable(body),
      headers: plainHeaders(ctx.req.headers),
    };
    const result = await fn(input as OffloadInput<P, Q, B>);
    ctx.type = 'application/json';
    ctx.body = jsonOf(result);
  };
}
