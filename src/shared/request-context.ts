/**
 * One AsyncLocalStorage context per request, opened by the adapters where it is cheap.
 *
 * The route frames (route-frames.ts) name a request's route after any `await` chain, but a
 * continuation that is not an `await` — a `setImmediate` callback (bcrypt's async API), a
 * timer, an emitter's listener, a `.then()` — starts a fresh async stack with no route frame
 * on it. Only an async context follows those. Where V8's AsyncContextFrame backs
 * AsyncLocalStorage (Node 24 and later by default, Node 22 with
 * `--experimental-async-context-frame`) a context costs a frame switch at `run()` and nothing
 * per `await` (BENCHMARKS.md, "A context per request"); elsewhere it turns promise hooks on
 * for the whole process, which costs on every promise. So the monitor's `requestContext`
 * option is `'auto'` by default: on only where AsyncContextFrame is.
 *
 * The store is the one withContext/guard use (the watchdog's capture already reads it on the
 * main thread while the app blocks), holding `{ method, route }` (node:http: `{ method, path }`)
 * as plain data properties, since the capture runs no getter of a store. A context the user
 * opened around the request wins, key by key.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ensureGlobal, REQUEST_STORE_BRAND } from './globals.js';
import type { BlockContext } from '../types.js';

/** What an adapter knows of a request when its handler is called. */
export interface RequestFacts {
  method?: string | undefined;
  route?: string | undefined;
  path?: string | undefined;
}

/** Whether the adapters open a context per request: set by the running monitor. */
export interface RequestContextSwitch {
  on: boolean;
}

/** The monitor's `requestContext` option. */
export type RequestContextMode = 'auto' | boolean;

/** Marks a store this module made (on the prototype: nothing per request, and no own key the capture would copy). */
const OWN = REQUEST_STORE_BRAND;

/**
 * A store opened for one request: own enumerable data only, as the capture reads it, and no
 * key for what is not known (`currentContext()` in a handler shows `{ method, route }`).
 */
class RequestStore {
  declare method?: string;
  declare route?: string;
  declare path?: string;
  constructor(method: string | undefined, route: string | undefined, path: string | undefined) {
    if (method !== undefined) this.method = method;
    if (route !== undefined) this.route = route;
    if (path !== undefined) this.path = path;
  }
}
Object.defineProperty(RequestStore.prototype, OWN, { value: true });

// The same store as context.ts's (shared/ cannot import it): whichever module runs first makes it.
const storage: AsyncLocalStorage<BlockContext> = ensureGlobal('contextStorage', () => new AsyncLocalStorage<BlockContext>());
const state: RequestContextSwitch = ensureGlobal('requestContext', () => ({ on: false }));

/**
 * True where AsyncLocalStorage is backed by AsyncContextFrame. The two implementations are
 * different classes, and only the async_hooks one propagates through `_propagate` (a hook
 * callback): Node 20 and 22 by default, 24+ with `--no-async-context-frame`.
 */
export function asyncContextFrameOn(): boolean {
  return !('_propagate' in AsyncLocalStorage.prototype);
}

/** Switch the per-request context on for the monitor's lifetime; returns what switches it off. */
export function openRequestContexts(mode: RequestContextMode): () => void {
  const on = mode === true || (mode === 'auto' && asyncContextFrameOn());
  if (!on) return () => {};
  state.on = true;
  return () => {
    state.on = false;
  };
}

/** True while the adapters open a context per request. */
export function requestContextsOn(): boolean {
  return state.on;
}

function storeFor(facts: RequestFacts): BlockContext {
  const own = new RequestStore(facts.method, facts.route, facts.path);
  const parent = storage.getStore();
  if (parent === undefined || (parent as Record<symbol, unknown>)[OWN] === true) return own as BlockContext;
  // The user's withContext()/guard() around the request: what they said wins.
  return { ...own, ...parent } as BlockContext;
}

/**
 * `handler.apply(self, args)` inside a context holding `facts`, when the switch is on; as it
 * is otherwise. Sync stays sync: a throw is thrown, a value returned, both unchanged.
 */
export function callInRequest<R>(facts: RequestFacts, handler: (...args: never[]) => R, self: unknown, args: unknown[]): R {
  if (!state.on) return Reflect.apply(handler, self, args) as R;
  return storage.run(storeFor(facts), Reflect.apply, handler, self, args) as R;
}
