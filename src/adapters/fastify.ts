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
  RouteHandlerMethod,
} from 'fastify';
import { wrapFastifyRoute } from './fastify-hooks.js';
import { checkOffloadFunction, cloneable, jsonOf, plainHeaders, type OffloadFunction, type OffloadInput } from './offload.js';
import { pathOf } from '../request-tag.js';
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

function loopguardPlugin(fastify: FastifyInstance, _options: unknown, done: (error?: Error) => void): void {
  // Each route's handler runs inside a frame named after the route, and the route's own
  // onRequest hook tags the request, both set once as the route is added (fastify-hooks.ts);
  // routes added before the plugin was registered are not seen.
  fastify.addHook('onRoute', wrapFastifyRoute);
  done();
}

// What fastify-plugin would set, written out to avoid a dependency: 'skip-override' lifts the
// plugin out of encapsulation so its hooks apply to every route of the instance.
function asGlobalPlugin(plugin: Function, name: string): FastifyPluginCallback {
  Object.defineProperties(plugin, {
    [Symbol.for('skip-override')]: { value: true },
    [Symbol.for('fastify.display-name')]: { value: name },
    [Symbol.for('plugin-meta')]: { value: { name, fastify: '5.x' } },
  });
  return plugin as FastifyPluginCallback;
}

/** `fastify.register(loopguard)`: blocks in any route are reported with its method and pattern. */
export const loopguard: FastifyPluginCallback = asGlobalPlugin(loopguardPlugin, 'loopguard');

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

/**
 * A plugin answering 503 with `Retry-After` while the loop is overloaded (limits over a sliding
 * window), and serving `health` for probes, from an `onRequest` hook on every route (and on
 * the 404 handler, so `health` needs no route): `fastify.register(shed({ maxDelay: 200 }))`.
 * Options are validated here; `onShed` receives the Fastify `request`.
 */
export function shed(options: ShedOptions): FastifyPluginCallback {
  const shedder = new Shedder(options);
  function onRequest(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
    const answer = shedder.decide(request.method, pathOf(request.url), request);
    if (answer === undefined) {
      done();
      return;
    }
    void reply.code(answer.status).headers(answer.headers).send(answer.body ?? '');
  }
  function shedPlugin(fastify: FastifyInstance, _options: unknown, done: (error?: Error) => void): void {
    fastify.addHook('onRequest', onRequest);
    done();
  }
  return asGlobalPlugin(shedPlugin, 'loopguard-shed');
}

/**
 * Store a job for `fn(input)` on the queue `fn` was marked with (`threaded(fn, { queue })`, or `options.queue`) and answer at once with
 * `202 { id, state: 'queued', statusUrl }`: `fastify.post('/reports', enqueue(renderReport))`.
 * `input` is offload()'s; `statusUrl` is by default the request's path + `/<id>`.
 */
export function enqueue<P = Record<string, string>, Q = Record<string, unknown>, B = unknown>(
  fn: OffloadFunction<P, Q, B>,
  options?: EnqueueRouteOptions<P, Q, B>,
): RouteHandlerMethod {
  const route = checkEnqueueRoute(fn, options);
  return async function enqueueRoute(request: FastifyRequest, reply: FastifyReply): Promise<string> {
    const input: OffloadInput = {
      params: cloneable(request.params ?? {}) as Record<string, string>,
      query: cloneable(request.query ?? {}) as Record<string, unknown>,
      body: cloneable(request.body),
      headers: plainHeaders(request.headers),
    };
    const answer = await enqueueAnswer(fn, input, pathOf(request.url), route);
    void reply.code(answer.status).headers(answer.headers);
    return answer.body;
  };
}

/** Serve `GET …/:id` with `queue.status(id)` as JSON, 404 for an unknown id: `fastify.get('/jobs/:id', jobStatus(queue))`. */
export function jobStatus(queue: RouteQueue): RouteHandlerMethod {
  checkRouteQueue('queue', queue);
  return async function jobStatusRoute(request: FastifyRequest, reply: FastifyReply): Promise<string> {
    const answer = await statusAnswer(queue, (request.params as Record<string, string | undefined> | undefined)?.['id']);
    void reply.code(answer.status).headers(answer.headers);
    return answer.body;
  };
}
