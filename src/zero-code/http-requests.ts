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

type Listener = (this: unknown, ...args: unknown[]) => unknown;
type AddListener = (this: unknown, event: string | symbol, listener: Listener) => unknown;

const ADDERS = ['on', 'addListener', 'prependListener'] as const;
const wrappers = new WeakMap<Listener, Listener>();

function wrapListener(listener: Listener): Listener {
  const known = wrappers.get(listener);
  if (known !== undefined) return known;
  const wrapped = function (this: unknown, req: IncomingMessage, ...rest: unknown[]): unknown {
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
