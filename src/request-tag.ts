/**
 * How a request is found while the main thread is paused, at no per-request cost.
 *
 * Adapters do not open an async context per request; they store the route on the request
 * object they already hold, as a plain non-enumerable property. While a block is under way
 * the watchdog walks the paused frames' scopes for request-like objects and calls
 * `describeRequest` on each (registered on globalThis, since evaluation on native frames
 * fails) to turn it into a BlockContext.
 */
import type { BlockContext } from './types.js';
import { ensureGlobal } from './shared/globals.js';

/** The property adapters set on request objects. A string key: the inspector reads it cheaply. */
const REQUEST_TAG = '__loopguard';

/** What an adapter stores: a BlockContext whose values may be getters that find nothing yet. */
export type RequestTag = { [K in keyof BlockContext]?: BlockContext[K] | undefined };

/**
 * Remember the route (and anything else) on a request object and on its raw node:http request.
 * Getters in `context` are kept as getters, not read now: a framework may only know the route
 * once routing has matched (Express's `req.route`, @koa/router's `ctx._matchedRoute`), so an
 * adapter passes `get route() {...}` and it is read when a block is described.
 */
export function tagRequest(request: object, context: RequestTag): void {
  // Runs once per request in every adapter: no arrays or closures beyond the tag itself.
  const descriptors = Object.getOwnPropertyDescriptors(context);
  tagObject(request, descriptors);
  const raw = rawRequestOf(request);
  if (raw !== undefined) tagObject(raw, descriptors);
}

function tagObject(target: object, descriptors: PropertyDescriptorMap): void {
  const existing = (target as Record<string, unknown>)[REQUEST_TAG] as BlockContext | undefined;
  if (existing !== undefined) {
    Object.defineProperties(existing, descriptors);
  } else {
    Object.defineProperty(target, REQUEST_TAG, {
      value: Object.defineProperties({}, descriptors),
      enumerable: false,
      configurable: true,
      writable: true,
    });
  }
}

/** The node:http IncomingMessage behind a framework request object (Fastify, Koa, Hono), if any. */
function rawRequestOf(request: object): object | undefined {
  const r = request as { raw?: unknown; req?: unknown; env?: { incoming?: unknown } };
  if (isIncomingMessage(r.raw)) return r.raw as object;
  if (isIncomingMessage(r.req)) return r.req as object;
  const incoming = r.env?.incoming;
  return isIncomingMessage(incoming) ? (incoming as object) : undefined;
}

function isIncomingMessage(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { method?: unknown }).method === 'string' &&
    typeof (value as { url?: unknown }).url === 'string' &&
    typeof (value as { headers?: unknown }).headers === 'object'
  );
}

/** The URL path without its query string or fragment. */
export function pathOf(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

/**
 * Turn a request-like object (IncomingMessage, Express/Fastify/Koa/Hono request or context)
 * into a BlockContext, or undefined if it is not one. Runs on the main thread while paused,
 * so it must be quick and must never throw.
 */
export function describeRequest(value: unknown): BlockContext | undefined {
  try {
    if (value === null || typeof value !== 'object') return undefined;
    const tag = (value as Record<string, unknown>)[REQUEST_TAG] as BlockContext | undefined;
    const raw = isIncomingMessage(value) ? value : rawRequestOf(value);
    const rawTag =
      raw === undefined ? undefined : ((raw as Record<string, unknown>)[REQUEST_TAG] as BlockContext | undefined);
    if (tag === undefined && raw === undefined) return undefined;
    const context: BlockContext = {};
    if (raw !== undefined) {
      const { method, url } = raw as { method: string; url: string };
      context.method = method;
      // Express rewrites req.url inside mounted routers; originalUrl is the full path.
      const original = (raw as { originalUrl?: unknown }).originalUrl;
      context.path = pathOf(typeof original === 'string' ? original : url);
    }
    return { ...context, ...rawTag, ...tag };
  } catch {
    return undefined;
  }
}

/** Registered on globalThis so the watchdog can call it on a paused frame's objects. */
export function registerRequestDescriber(): void {
  ensureGlobal('describeRequest', () => describeRequest);
}
