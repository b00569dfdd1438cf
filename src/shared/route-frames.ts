/**
 * Attribution after `await`s at no per-request cost: route handlers run inside a function
 * whose *name* says which route it is, so the stack the watchdog already takes names the
 * route even when the block is three calls and two `await`s below the handler.
 *
 * V8 keeps zero-cost async frames in `Error.stack`: a block in `helper()` after
 * `await repo()` shows `helper ← repo ← async service ← async <the function awaiting the
 * handler's promise>`. Each adapter wraps a route handler ONCE, when the route is registered
 * (or first seen), in `loopguard·route·17`; when the handler returns a promise, the wrapper
 * awaits it inside an `async` function of the same name, so that frame is on every awaited
 * chain below. The id is looked up here, on the main thread, when the block event is
 * assembled; the frames themselves are loopguard's and are dropped from the reported stack.
 *
 * Cost: none for sync handlers; one extra promise per request for async ones. The route of an
 * id may be a getter read only when a block is described (Nest's global prefix is known late).
 */
import { ensureGlobal } from './globals.js';
import { callInRequest } from './request-context.js';
import type { BlockContext, StackFrame } from '../types.js';

/** What a route id stands for; `route` may be a getter. */
export interface RouteEntry {
  method?: string | undefined;
  route?: string | undefined;
  /** Only for node:http, whose frames stand for one request at a time (see {@link requestSlot}). */
  path?: string | undefined;
}

/** The registry shared by every copy of loopguard (ESM, CJS) in the process. */
export interface RouteIdRegistry {
  next: number;
  entries: Map<number, RouteEntry>;
}

const PREFIX = 'loopguard·route·';
const ID_IN_NAME = /loopguard·route·(\d+)/;
/** Marks a wrapper (and its original) so a walk that sees it again leaves it alone. */
// Per copy of loopguard: a handler wrapped by another copy is wrapped again, which only nests
// a second frame of the same route.
const WRAPPED = Symbol('loopguard.routeWrapped');

type Handler = (this: unknown, ...args: never[]) => unknown;

function registry(): RouteIdRegistry {
  return ensureGlobal('routeIds', () => ({ next: 1, entries: new Map<number, RouteEntry>() }));
}

/** Register a route and get the name its frames carry. */
function register(entry: RouteEntry): string {
  const ids = registry();
  const id = ids.next++;
  ids.entries.set(id, entry);
  return PREFIX + String(id);
}

/**
 * The named async function that awaits a handler's promise: `await` (not `.then`) so that V8
 * links the awaiting frame into the async stack of everything below.
 */
function awaiterNamed(name: string): (result: PromiseLike<unknown>) => Promise<unknown> {
  // A computed key names the function: the name is what V8 prints in the stack.
  return {
    async [name](result: PromiseLike<unknown>): Promise<unknown> {
      return await result;
    },
  }[name] as (result: PromiseLike<unknown>) => Promise<unknown>;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** True for a function {@link wrapRouteHandler} made. */
export function isRouteWrapped(fn: unknown): boolean {
  return typeof fn === 'function' && (fn as unknown as Record<symbol, unknown>)[WRAPPED] === true;
}

/**
 * `handler` run inside a frame named after `entry`. Behaviour is the handler's own: a sync
 * handler stays sync (its throw is thrown, not turned into a rejection: Express 4 catches it),
 * `this` and every argument are passed on, and `length` is kept (Express tells error
 * middleware by `length === 4`). Call it once per route, never per request.
 */
export function wrapRouteHandler<F extends Handler>(
  handler: F,
  entry: RouteEntry,
  learn?: (args: unknown[]) => RouteEntry | undefined,
): F {
  if (isRouteWrapped(handler)) return handler;
  const name = register(entry);
  const awaitResult = awaiterNamed(name);
  // Express knows a route's full pattern (mount paths included) only from a request: it is
  // learned from the first call, and the check costs one comparison per request after that.
  let pending = learn;
  const wrapper = {
    [name](this: unknown, ...args: never[]): unknown {
      if (pending !== undefined) {
        try {
          const learned = pending(args);
          if (learned !== undefined) {
            Object.assign(entry, learned);
            pending = undefined;
          }
        } catch {
          pending = undefined;
        }
      }
      // In a per-request async context too where that is on (request-context.ts): it follows
      // the continuations that are not awaits, which this frame cannot.
      const result = callInRequest(entry, handler, this, args);
      return isThenable(result) ? awaitResult(result) : result;
    },
  }[name] as F;
  Object.defineProperty(wrapper, 'length', { value: handler.length, configurable: true });
  Object.defineProperty(wrapper, WRAPPED, { value: true });
  return wrapper;
}

/**
 * For frameworks that know the route before the handler chain runs (Hono): the named
 * awaiter of a route, made once per route; the adapter passes the chain's promise through it.
 */
export function routeAwaiter(entry: RouteEntry): (result: PromiseLike<unknown>) => Promise<unknown> {
  return awaiterNamed(register(entry));
}

/** A frame of an adapter's route wrapper: loopguard's own, never shown. */
export function isRouteFrame(frame: StackFrame): boolean {
  return ID_IN_NAME.test(frame.function);
}

/**
 * The route a stack's named frames point to, and the stack without them. Where `context`
 * already has a route (withContext/guard, or the request walk found a tagged request) it wins:
 * it was said explicitly, or read from the very request being served. Otherwise the innermost
 * route frame gives `method` and `route`, and `path` (from the walk) is kept only when the
 * methods agree, since it may belong to another request found in scope.
 */
export function attributeRouteFrames(
  stack: StackFrame[],
  context: BlockContext | undefined,
): { stack: StackFrame[]; context: BlockContext | undefined } {
  let entry: RouteEntry | undefined;
  let found = false;
  for (const frame of stack) {
    const match = ID_IN_NAME.exec(frame.function);
    if (match === null) continue;
    found = true;
    entry ??= registry().entries.get(Number(match[1]));
  }
  if (!found) return { stack, context };
  const kept = stack.filter((frame) => !isRouteFrame(frame));
  if (entry === undefined || typeof context?.route === 'string') return { stack: kept, context };
  let method: string | undefined;
  let route: string | undefined;
  let path: string | undefined;
  try {
    // Getters of an adapter's own (read late, when the route is known late).
    ({ method, route, path } = entry);
  } catch {
    return { stack: kept, context };
  }
  if (route === undefined && path === undefined) return { stack: kept, context };
  const merged: BlockContext = { ...context };
  if (method !== undefined) {
    // A path the walk found for a request of another method is not this request's.
    if (merged.method !== undefined && merged.method !== method) delete merged.path;
    merged.method = method;
  }
  if (route !== undefined) merged.route = route;
  if (path !== undefined && typeof merged.path !== 'string') merged.path = path;
  return { stack: kept, context: merged };
}

/** A request-scoped frame: its entry is the request's while it runs, then the slot is free again. */
export interface RequestSlot {
  entry: RouteEntry;
  /** Awaits the listener's promise inside the slot's named frame, then frees the slot. */
  run(result: PromiseLike<unknown>): Promise<unknown>;
}

/** Released slots, oldest first, with when they were released. */
const released: Array<{ slot: RequestSlot; at: number }> = [];
let slotCount = 0;
/** Slots exist as long as the process (their ids stay registered): no more than this many. */
const MAX_SLOTS = 1024;
/**
 * A block is described after it ends (up to the monitor's 3 s wait for the capture), by which
 * time its request may have finished: a slot keeps the request's method and path until it is
 * reused, and is reused only this long after its release, unless MAX_SLOTS are in use.
 */
const QUARANTINE_MS = 5_000;

/**
 * node:http has no routes to name a frame after, so frames stand for requests instead: a
 * listener's promise is awaited inside one of a pool of named frames whose entry holds that
 * request's method and path. The pool grows to the requests in flight plus those finished in
 * the last {@link QUARANTINE_MS} (at most {@link MAX_SLOTS}; past that the oldest released slot
 * is reused at once, and a block described late may then show a later request's path).
 */
export function requestSlot(): RequestSlot {
  const oldest = released[0];
  if (oldest !== undefined && (slotCount >= MAX_SLOTS || performance.now() - oldest.at > QUARANTINE_MS)) {
    released.shift();
    return oldest.slot;
  }
  slotCount++;
  const entry: RouteEntry = {};
  const name = register(entry);
  const slot: RequestSlot = {
    entry,
    run: {
      async [name](result: PromiseLike<unknown>): Promise<unknown> {
        try {
          return await result;
        } finally {
          released.push({ slot, at: performance.now() });
        }
      },
    }[name] as (result: PromiseLike<unknown>) => Promise<unknown>,
  };
  return slot;
}

export { isThenable };
