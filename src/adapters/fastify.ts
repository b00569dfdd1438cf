/**
 * loopguard/fastify: a Fastify 5 plugin that tags each request with its method and route
 * pattern, and `offload(fn)` to serve a route wholly from the thread pool.
 *
 * Only types come from fastify, so importing this module loads no framework.
 */
import type {
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  RouteHandlerMethod,
} from 'fastify';
import { tagRequest } from '../request-tag.js';
import { wrapRouteHandler } from '../shared/route-frames.js';
import { checkOffloadFunction, cloneable, jsonOf, plainHeaders, type OffloadFunction, type OffloadInput } from './offload.js';

export type { OffloadInput } from './offload.js';

function loopguardPlugin(fastify: FastifyInstance, _options: unknown, done: (error?: Error) => void): void {
  fastify.addHook('onRequest', tagFastifyRequest);
  fastify.addHook('onRoute', wrapFastifyRoute);
  done();
}

/**
 * Each route's handler runs inside a frame named after the route (shared/route-frames.ts), so
 * a block after any `await` chain below it still names the route. Wrapped once, as the route
 * is added; routes added before the plugin was registered are not seen.
 */
export function wrapFastifyRoute(routeOptions: { method: string | string[]; url: string; handler?: unknown }): void {
  const handler = routeOptions.handler;
  if (typeof handler !== 'function') return;
  const methods = Array.isArray(routeOptions.method) ? routeOptions.method : [routeOptions.method];
  const method = methods.length === 1 ? String(methods[0]).toUpperCase() : undefined;
  routeOptions.handler = wrapRouteHandler(handler as (...args: never[]) => unknown, { method, route: routeOptions.url });
}

/** The onRequest hook: the route pattern is stored on the request (and its raw request). */
export function tagFastifyRequest(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
  // The pattern is known from the route options before the handler runs, prefixes included.
  const route = request.routeOptions.url;
  tagRequest(request, route === undefined ? { method: request.method } : { method: request.method, route });
  done();
}

// What fastify-plugin would set, written out to avoid a dependency: 'skip-override' lifts the
// plugin out of encapsulation so its hook applies to every route of the instance.
Object.defineProperties(loopguardPlugin, {
  [Symbol.for('skip-override')]: { value: true },
  [Symbol.for('fastify.display-name')]: { value: 'loopguard' },
  [Symbol.for('plugin-meta')]: { value: { name: 'loopguard', fastify: '5.x' } },
});

/** `fastify.register(loopguard)`: blocks in any route are reported with its method and pattern. */
export const loopguard: FastifyPluginCallback = loopguardPlugin as FastifyPluginCallback;

/**
 * Serve a route from the thread pool: `fastify.get('/report/:id', offload(renderReport))`,
 * where `renderReport = threaded(function renderReport({ params, query, body, headers }) {...})`.
 * The result is sent as JSON; an error is thrown into Fastify's error handling, which answers
 * with its `statusCode`/`status`, else 500.
 */
export function offload<P = Record<string, string>, Q = Record<string, unknown>, B = unknown>(
  fn: OffloadFunction<P, Q, B>,
): RouteHandlerMethod {
  checkOffloadFunction(fn);
  return async function offloadedRoute(request: FastifyRequest, reply: FastifyReply): Promise<string> {
    const input: OffloadInput = {
      params: cloneable(request.params ?? {}) as Record<string, string>,
      query: cloneable(request.query ?? {}) as Record<string, unknown>,
      body: cloneable(request.body),
      headers: plainHeaders(request.headers),
    };
    const result = await fn(input as OffloadInput<P, Q, B>);
    // Serialised here so that a string result is JSON too, not text/plain.
    void reply.type('application/json; charset=utf-8');
    return jsonOf(result);
  };
}
