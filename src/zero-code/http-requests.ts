/**
 * Zero-code attribution after awaits (loopguard/register, the CLI), without any adapter.
 *
 * node:http: the paused-frame walk finds a request only in a running frame's scope, which a
 * block two awaits below the listener no longer has. So each 'request' listener of every
 * http(s) server is put, once, when it is added, inside a wrapper that awaits the promise an
 * async listener returns inside a request slot's named frame (shared/route-frames.ts), as
 * loopguard/http's `wrap()` does: a block after any `await` chain below names `{ method, path }`.
 * A sync listener (Express's app, Fastify's router) costs one `typeof` check; an async one one
 * extra promise per request. Where the per-request context is on (the monitor's
 * `requestContext`), the listener also runs inside it, which follows setImmediate, callbacks
 * and emitters too.
 *
 * Express (4 and 5) announces nothing, but its app *is* the 'request' listener it hands node:http
 * (`app.listen()`, `http.createServer(app)`, Nest's Express platform): a listener shaped like an
 * Express app gets loopguard/express's route wrapping (adapters/express-wrap.ts), so its route
 * handlers run inside frames named after their routes and a block after awaits names the route
 * pattern, on every Node. The routes are walked when the listener is added and again whenever
 * the app's router has grown (routes added after listen, as Nest does): two comparisons per
 * request; each handler is wrapped once. Found from the listener, not from a require hook, so
 * it holds however express was loaded (require, ESM import, a bundle, an alias such as express4).
 *
 * Fastify announces each instance on the `fastify.initialization` diagnostics channel while
 * `fastify()` builds it, before the app adds routes: its `onRoute` hook then puts each route
 * handler in a route frame, so Fastify apps get route patterns with no code change.
 *
 * The listener wrapper carries the original as `.listener` (as `once()` wrappers do), so
 * `listeners()`, `removeListener()` and `listenerCount()` see the app's own function.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { listenInRequest } from '../adapters/http-listener.js';
import { wrapFastifyRoute } from '../adapters/fastify-hooks.js';
import { wrapExpressRoutes } from '../adapters/express-wrap.js';

type Listener = (this: unknown, ...args: unknown[]) => unknown;
type AddListener = (this: unknown, event: string | symbol, listener: Listener) => unknown;

const ADDERS = ['on', 'addListener', 'prependListener'] as const;
const wrappers = new WeakMap<Listener, Listener>();

/**
 * An Express app (4 or 5): the function express() returns, with its router methods and
 * `handle`. Sub-apps and routers are not listeners, so only a root app is ever seen here.
 */
function isExpressApp(listener: Listener): boolean {
  const app = listener as unknown as Record<string, unknown>;
  return (
    typeof app['handle'] === 'function' &&
    typeof app['use'] === 'function' &&
    typeof app['route'] === 'function' &&
    typeof app['set'] === 'function' &&
    typeof app['engine'] === 'function'
  );
}

function wrapListener(listener: Listener): Listener {
  const known = wrappers.get(listener);
  if (known !== undefined) return known;
  const express = isExpressApp(listener);
  if (express) wrapExpressRoutes(listener);
  const wrapped = express
    ? function (this: unknown, req: IncomingMessage, ...rest: unknown[]): unknown {
        // Routes added since the last request (Nest adds its own after the server exists).
        wrapExpressRoutes(listener);
        return listenInRequest(req, undefined, listener, this, [req, ...rest]);
      }
    : function (this: unknown, req: IncomingMessage, ...rest: unknown[]): unknown {
        return listenInRequest(req, undefined, listener, this, [req, ...rest]);
      };
  Object.defineProperty(wrapped, 'name', { value: listener.name, configurable: true });
  Object.defineProperty(wrapped, 'length', { value: listener.length, configurable: true });
  // How EventEmitter matches a once() wrapper with the function it was given.
  Object.defineProperty(wrapped, 'listener', { value: listener, configurable: true });
  wrappers.set(listener, wrapped as Listener);
  return wrapped as Listener;
}

/** Patch `on`/`addListener`/`prependListener` of a server prototype; returns the undo. */
function patchAdders(proto: object): () => void {
  const restores = ADDERS.map((name) => {
    const had = Object.getOwnPropertyDescriptor(proto, name);
    const own = had?.value as AddListener | undefined;
    // Looked up on every call when inherited: a later patch of EventEmitter's (another tool's) is honoured.
    const next = (): AddListener => own ?? (Object.getPrototypeOf(proto) as Record<string, AddListener>)[name]!;
    const patched = {
      [name](this: unknown, event: string | symbol, listener: Listener): unknown {
        // A once() wrapper (it has .listener) is left alone: removeListener(fn) must still find it.
        const wrap = event === 'request' && typeof listener === 'function' && !('listener' in listener);
        return next().call(this, event, wrap ? wrapListener(listener) : listener);
      },
    }[name]!;
    Object.defineProperty(proto, name, { value: patched, configurable: true, writable: true, enumerable: false });
    return () => {
      if ((proto as Record<string, unknown>)[name] !== patched) return;
      if (had === undefined) delete (proto as Record<string, unknown>)[name];
      else Object.defineProperty(proto, name, had);
    };
  });
  return () => {
    for (const restore of restores) restore();
  };
}

function onFastify(message: unknown): void {
  try {
    const fastify = (message as { fastify?: { addHook?: (name: string, hook: unknown) => unknown } }).fastify;
    fastify?.addHook?.('onRoute', wrapFastifyRoute);
  } catch {
    // a Fastify shaped otherwise: its requests still get paths
  }
}

/**
 * Name node:http(s) requests after awaits and Fastify routes, for the zero-code entry. Call
 * before the app creates its servers. Returns what undoes it (for tests).
 */
export function nameZeroCodeRequests(): () => void {
  // net.Server's prototype is below http's, https's (through tls) and http2's servers, and
  // only those emit 'request': one patch covers them all without loading tls here.
  const restore = patchAdders(process.getBuiltinModule('node:net').Server.prototype);
  subscribe('fastify.initialization', onFastify);
  return () => {
    unsubscribe('fastify.initialization', onFastify);
    restore();
  };
}
