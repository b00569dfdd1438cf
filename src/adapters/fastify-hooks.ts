/**
 * The Fastify hooks of loopguard, shared by loopguard/fastify's plugin and loopguard/nestjs on
 * Nest's Fastify platform. Only types come from fastify.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { tagNodeRequest, type RequestTag } from '../request-tag.js';
import { isRouteWrapped, wrapRouteHandler } from '../shared/route-frames.js';

type OnRequestHook = (this: unknown, request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void;

/**
 * As each route is added: its handler is put inside a frame named after the route
 * (shared/route-frames.ts), so a block after any `await` chain below it still names the route,
 * and an onRequest hook of its own stores the route's tag, made here once, on the node:http
 * request (request-tag.ts), so a block in a hook, a callback or a `setImmediate` continuation
 * names it too. Per request that is one store: a global hook would have to read
 * `request.routeOptions`, which builds a dozen-key object on every read. Routes added before
 * the plugin was registered are not seen.
 */
export function wrapFastifyRoute(routeOptions: {
  method: string | string[];
  url: string;
  handler?: unknown;
  onRequest?: unknown;
}): void {
  const handler = routeOptions.handler;
  // Seen already (the plugin and loopguard/nestjs both registered): one frame, one tag.
  if (typeof handler !== 'function' || isRouteWrapped(handler)) return;
  const methods = Array.isArray(routeOptions.method) ? routeOptions.method : [routeOptions.method];
  const method = methods.length === 1 ? String(methods[0]).toUpperCase() : undefined;
  routeOptions.handler = wrapRouteHandler(handler as (...args: never[]) => unknown, { method, route: routeOptions.url });
  const tag: RequestTag = Object.freeze(method === undefined ? { route: routeOptions.url } : { method, route: routeOptions.url });
  const tagHook: OnRequestHook = function loopguardTag(request, _reply, done) {
    tagNodeRequest(request.raw, tag);
    done();
  };
  // First among the route's own hooks (Fastify runs the instance's hooks before them).
  const existing = routeOptions.onRequest;
  routeOptions.onRequest = existing === undefined || existing === null ? tagHook : [tagHook, ...(Array.isArray(existing) ? existing : [existing])];
}
