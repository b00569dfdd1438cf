import { AsyncLocalStorage } from 'node:async_hooks';
import { checkFunction, checkOptionsObject } from './shared/validate.js';
import { ensureGlobal } from './shared/globals.js';
import type { BlockContext } from './types.js';

/**
 * The user-facing context store (guard/withContext). The adapters also open a `{ method, route }`
 * store in it per request, but only where AsyncContextFrame makes that cheap (the monitor's
 * `requestContext`, shared/request-context.ts): elsewhere ALS per request costs ~1.25× CPU.
 */
export const contextStorage: AsyncLocalStorage<BlockContext> = ensureGlobal(
  'contextStorage',
  () => new AsyncLocalStorage<BlockContext>(),
);

/** The context the current code runs in, if any (merged from enclosing contexts). */
export function currentContext(): BlockContext | undefined {
  return contextStorage.getStore();
}

/**
 * Run `fn` with `context` as the current context; blocks inside it (and in everything it
 * starts asynchronously) are attributed to it. Nested contexts merge, inner keys winning.
 */
export function withContext<R>(context: BlockContext, fn: () => R): R {
  checkOptionsObject('context', context, Object.keys(context ?? {}));
  checkFunction('fn', fn);
  const parent = contextStorage.getStore();
  return contextStorage.run(parent === undefined ? { ...context } : { ...parent, ...context }, fn);
}

/**
 * withContext() for loopguard's own callers, which pass a fresh object of known keys: no
 * validation and no copy (the queue worker opens one context a job, and a burst of tiny jobs
 * pays for each step).
 */
export function runInContext<R>(context: BlockContext, fn: () => R): R {
  const parent = contextStorage.getStore();
  return contextStorage.run(parent === undefined ? context : { ...parent, ...context }, fn);
}

/**
 * Wrap a handler so that every call runs in `context`; the default name is the function's.
 * `guard(async (req, res) => { ... }, { name: 'GET /report' })`.
 */
export function guard<A extends unknown[], R>(
  fn: (...args: A) => R,
  context: BlockContext = {},
): (...args: A) => R {
  checkFunction('fn', fn);
  checkOptionsObject('context', context, Object.keys(context ?? {}));
  const resolved: BlockContext = { name: fn.name || 'anonymous', ...context };
  const guarded = function (this: unknown, ...args: A): R {
    return withContext(resolved, () => fn.apply(this, args));
  };
  Object.defineProperty(guarded, 'name', { value: fn.name });
  return guarded;
}
