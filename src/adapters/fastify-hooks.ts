/**
 * The Fastify hooks of loopguard, shared by loopguard/fastify's plugin and loopguard/nestjs on
 * Nest's Fastify platform. Only types come from fastify.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { tagRequest } from '../request-tag.js';
import { wrapRouteHandler } from '../shared/route-frames.js';

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

