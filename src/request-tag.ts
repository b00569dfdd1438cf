/**
 * How a request is found while the main thread is paused, at almost no per-request cost.
 *
 * Adapters do not open an async context per request; they store a tag on the node:http request
 * behind the framework's request (or on the framework's object where there is none): one plain
 * store under a symbol key, of an object made once per route, or of a one-field object whose
 * prototype getters read the route from the request only when a block is described. While a
 * block is under way the watchdog walks the paused frames' scopes for request-like objects and
 * calls `describeRequest` on each (registered on globalThis, since evaluation on native frames
 * fails) to turn it into a BlockContext.
 *
 * Measured in-process (bench in BENCHMARKS.md, "The cost of the request tag"): the store is
 * 30–60 ns a request; `Object.defineProperty` (non-enumerable) cost 250–900 ns, an object
 * literal with a getter 450–2,000 ns, and the copy of descriptors this replaces 4–9 µs.
 */
import type { BlockContext } from './types.js';
import { ensureGlobal, REQUEST_TAG } from './shared/globals.js';

// The tag's key is a symbol (globals.ts): JSON.stringify, Object.keys and for…in never see it,
// so a request serialised or logged by the app looks as before.
export { REQUEST_TAG };

/**
 * What an adapter stores. Either a plain object (its own enumerable properties are copied when
 * a block is described; a getter among them is read then), or an instance of a class whose
 * `method`, `route`, `path` and `name` (fields or prototype getters) are read then: a class
 * instance costs one small allocation per request, a literal with a getter ten times more.
 */
export type RequestTag = { [K in keyof BlockContext]?: BlockContext[K] | undefined };

/** A tag class's instance: these keys, as fields or prototype getters, are all that is read. */
export interface RequestTagObject {
  readonly method?: string | undefined;
  readonly route?: string | undefined;
  readonly path?: string | undefined;
  readonly name?: string | undefined;
}

type Tagged = { [REQUEST_TAG]?: object | undefined };

/** Two tags on one request (two adapters, or a tag added to one a framework set): the later wins per key. */
class MergedTag {
  constructor(
    readonly earlier: object,
    readonly later: object,
  ) {}
}

/**
 * Tag the node:http request `raw` (or any object the walk may find) with `tag`. One plain
 * property store; a second tag on the same object is kept beside the first, not over it.
 */
export function tagNodeRequest(raw: object, tag: RequestTag | RequestTagObject): void {
  const target = raw as Tagged;
  const existing = target[REQUEST_TAG];
  target[REQUEST_TAG] = existing === undefined || existing === tag ? tag : new MergedTag(existing, tag);
}

/**
 * Tag a framework's request object: the tag goes on the node:http request behind it when there
 * is one (Fastify's `request.raw`, Koa's `ctx.req`, Hono's `c.env.incoming`), since
 * describeRequest reaches that from either object, else on `request` itself. Adapters that
 * know where the raw request is call {@link tagNodeRequest} directly.
 */
export function tagRequest(request: object, tag: RequestTag | RequestTagObject): void {
  tagNodeRequest(rawRequestOf(request) ?? request, tag);
}

const TAG_KEYS = ['method', 'route', 'path', 'name'] as const;

/** A tag's values, getters read now. */
function readTag(tag: unknown): BlockContext | undefined {
  if (tag === null || typeof tag !== 'object') return undefined;
  if (tag instanceof MergedTag) return { ...readTag(tag.earlier), ...readTag(tag.later) };
  const prototype = Object.getPrototypeOf(tag) as unknown;
  if (prototype === Object.prototype || prototype === null) return { ...(tag as BlockContext) };
  // A class instance: only the context's own keys, never its fields (the request it reads from).
  const out: BlockContext = {};
  for (const key of TAG_KEYS) {
    try {
      const value = (tag as BlockContext)[key];
      if (value !== undefined) out[key] = value;
    } catch {
      // a throwing getter names nothing; the method and path from the request stay
    }
  }
  return out;
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
    // Fastify's request and Koa's ctx look like an IncomingMessage themselves (method, url,
    // headers) but the tag is on the one behind them; their own url is read as before.
    const raw = rawRequestOf(value);
    const source = isIncomingMessage(value) ? value : raw;
    const tag = readTag((value as Tagged)[REQUEST_TAG]);
    const rawTag = raw === undefined ? undefined : readTag((raw as Tagged)[REQUEST_TAG]);
    if (tag === undefined && source === undefined) return undefined;
    const context: BlockContext = {};
    if (source !== undefined) {
      const { method, url } = source as { method: string; url: string };
      context.method = method;
      // Express rewrites req.url inside mounted routers; originalUrl is the full path.
      const original = (source as { originalUrl?: unknown }).originalUrl;
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
