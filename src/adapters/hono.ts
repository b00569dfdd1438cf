/**
 * loopguard/hono: `loopguard()` middleware that tags each request with its method and route
 * pattern, and `offload(fn)` to serve a route wholly from the thread pool. Made for Hono on
 * @hono/node-server, where the node:http request is `c.env.incoming`.
 *
 * Only types come from hono, so importing this module loads no framework.
 */
import type { Context, Handler, MiddlewareHandler, Next } from 'hono';
import { tagRequest } from '../request-tag.js';
import { routeAwaiter, type RouteEntry } from '../shared/route-frames.js';
import { callInRequest } from '../shared/request-context.js';
import {
  checkOffloadFunction,
  cloneable,
  jsonOf,
  parseBody,
  plainHeaders,
  readWebBody,
  statusOf,
  type OffloadFunction,
  type OffloadInput,
} from './offload.js';
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

/**
 * Middleware that lets the monitor name the route a block happened in. Mount it first:
 * `app.use(loopguard())`. It adds no async context; it stores a getter on `c` (and on the
 * node:http request) that the monitor reads only while describing a block.
 *
 * Hono has matched the request before its middleware runs, so the route is known here: the
 * rest of the chain is awaited inside a frame named after that route (made once per route,
 * shared/route-frames.ts), which names it for a block after any `await` chain below. One extra
 * promise per request.
 */
export function loopguard(): MiddlewareHandler {
  return function loopguardMiddleware(c: Context, next: Next): Promise<void> {
    tagRequest(c, {
      method: c.req.method,
      // Read at block time: routePath names the handler running then, not this middleware.
      get route() {
        return routePattern(c);
      },
    });
    const route = awaiterOf(c);
    if (route === undefined) return next();
    // The chain runs in a per-request context where that is on (shared/request-context.ts).
    return route.awaiter(callInRequest(route.entry, next, undefined, [])) as Promise<void>;
  };
}

interface HonoRoute {
  method: string;
  path: string;
}

interface NamedRoute {
  entry: RouteEntry;
  awaiter: (result: PromiseLike<unknown>) => Promise<unknown>;
}

const awaiters = new WeakMap<HonoRoute, NamedRoute>();

/** The named awaiter of the first matched route that is not middleware (`use()` routes are 'ALL'). */
function awaiterOf(c: Context): NamedRoute | undefined {
  try {
    const routes = (c.req as unknown as { matchedRoutes: HonoRoute[] }).matchedRoutes;
    const route = routes.find((candidate) => candidate.method !== 'ALL');
    if (route === undefined) return undefined;
    let named = awaiters.get(route);
    if (named === undefined) {
      const entry = { method: route.method, route: route.path };
      named = { entry, awaiter: routeAwaiter(entry) };
      awaiters.set(route, named);
    }
    return named;
  } catch {
    return undefined;
  }
}

/** The pattern of the Hono handler now running for `c`, or undefined. */
export function routePattern(c: Context): string | undefined {
  try {
    // Not the deprecated `routePath` getter: the same data through matchedRoutes/routeIndex.
    const request = c.req as unknown as { matchedRoutes: Array<{ path: string }>; routeIndex: number };
    return request.matchedRoutes[request.routeIndex]?.path;
  } catch {
    return undefined;
  }
}

/**
 * Serve a route from the thread pool: `app.get('/report/:id', offload(renderReport))`, where
 * `renderReport = threaded(function renderReport({ params, query, body, headers }) {...})`.
 * The result is sent as JSON. An error is thrown on to `app.onError` with its own properties
 * intact; so that Hono's default handler also answers with the error's `status`/`statusCode`
 * (it would send 500 for anything but an HTTPException), an error with such a status is
 * given a non-enumerable `getResponse()` the way HTTPException has one.
 */
export function offload<P = Record<string, string>, Q = Record<string, unknown>, B = unknown>(
  fn: OffloadFunction<P, Q, B>,
): Handler {
  checkOffloadFunction(fn);
  return async function offloadedRoute(c: Context): Promise<Response> {
    let result: unknown;
    try {
      const input: OffloadInput = {
        params: cloneable(c.req.param()) as Record<string, string>,
        query: cloneable(c.req.query()) as Record<string, unknown>,
        body: await bodyOf(c),
        headers: plainHeaders(c.req.header()),
      };
      result = await fn(input as OffloadInput<P, Q, B>);
    } catch (error) {
      throw withResponse(error);
    }
    return c.body(jsonOf(result), 200, { 'content-type': 'application/json; charset=utf-8' });
  };
}

/**
 * The body, read here with the same 1 MiB limit as the other adapters (`c.req.text()` has
 * none). A body some middleware already read (a validator, `c.req.json()`) comes from Hono's
 * cache: it is in memory already, under whatever limit that middleware applied.
 */
async function bodyOf(c: Context): Promise<unknown> {
  if (c.req.method === 'GET' || c.req.method === 'HEAD') return undefined;
  const raw = c.req.raw;
  const text = raw.bodyUsed ? await c.req.text() : await readWebBody(raw.body, c.req.header('content-length'));
  return parseBody(text, c.req.header('content-type') ?? '');
}

function withResponse(error: unknown): unknown {
  if (error === null || typeof error !== 'object' || 'getResponse' in error) return error;
  const status = statusOf(error);
  if (status === 500 && !('status' in error) && !('statusCode' in error)) return error;
  const message = status < 500 && error instanceof Error ? error.message : 'Internal Server Error';
  Object.defineProperty(error, 'getResponse', {
    value: () => new Response(message, { status, headers: { 'content-type': 'text/plain; charset=UTF-8' } }),
    configurable: true,
    writable: true,
  });
  return error;
}

/**
 * Middleware answering 503 with `Retry-After` while the loop is overloaded (limits over a
 * sliding window), and serving `health` for probes: `app.use(shed({ maxDelay: 200 }))`,
 * mounted first. Options are validated here; `onShed` receives the Hono context `c`.
 */
export function shed(options: ShedOptions): MiddlewareHandler {
  const shedder = new Shedder(options);
  return async function loopguardShed(c: Context, next: Next): Promise<Response | void> {
    const answer = shedder.decide(c.req.method, c.req.path, c);
    if (answer === undefined) {
      await next();
      return;
    }
    return new Response(answer.body ?? null, { status: answer.status, headers: answer.headers });
  };
}

/**
 * Store a job for `fn(input)` on the queue `fn` was marked with (`threaded(fn, { queue })`, or `options.queue`) and answer at once with
 * `202 { id, state: 'queued', statusUrl }`: `app.post('/reports', enqueue(renderReport))`.
 * `input` is offload()'s; `statusUrl` is by default the request's path + `/<id>`.
 */
export function enqueue<P = Record<string, string>, Q = Record<string, unknown>, B = unknown>(
  fn: OffloadFunction<P, Q, B>,
  options?: EnqueueRouteOptions<P, Q, B>,
): Handler {
  const route = checkEnqueueRoute(fn, options);
  return async function enqueueRoute(c: Context): Promise<Response> {
    try {
      const input: OffloadInput = {
        params: cloneable(c.req.param()) as Record<string, string>,
        query: cloneable(c.req.query()) as Record<string, unknown>,
        body: await bodyOf(c),
        headers: plainHeaders(c.req.header()),
      };
      const answer = await enqueueAnswer(fn, input, c.req.path, route);
      return c.body(answer.body, answer.status as 202, answer.headers);
    } catch (error) {
      throw withResponse(error);
    }
  };
}

/** Serve `GET …/:id` with `queue.status(id)` as JSON, 404 for an unknown id: `app.get('/jobs/:id', jobStatus(queue))`. */
export function jobStatus(queue: RouteQueue): Handler {
  checkRouteQueue('queue', queue);
  return async function jobStatusRoute(c: Context): Promise<Response> {
    const answer = await statusAnswer(queue, c.req.param('id'));
    return c.body(answer.body, answer.status as 200, answer.headers);
  };
}
