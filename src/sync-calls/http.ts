/**
 * Which node:http(s) request is being served, for the `syncCalls` policy only.
 *
 * The monitor itself attributes blocks to requests at no per-request cost, by reading the
 * paused frames (DESIGN.md). A sync call is judged while it happens, with nothing paused, so
 * the policy needs the request in an async context: each server's request events run their
 * listeners inside an AsyncLocalStorage holding the IncomingMessage. That costs ~1.2× CPU
 * per request on Node 20, which API.md accepts for this development-time policy; without
 * the policy nothing here is installed.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ensureGlobal } from '../shared/globals.js';
import { markOwnFile } from '../shared/stack-text.js';

markOwnFile(new Error().stack);

/** The request whose listeners are running (and everything they started asynchronously). */
const requestStorage: AsyncLocalStorage<object> = ensureGlobal(
  'syncCallsRequestStorage',
  () => new AsyncLocalStorage<object>(),
);

// The events whose first argument is the IncomingMessage that the listeners will serve.
const REQUEST_EVENTS: ReadonlySet<string | symbol> = new Set([
  'request',
  'checkContinue',
  'checkExpectation',
  'upgrade',
]);

/** The node:http IncomingMessage being served here, if any. */
export function currentHttpRequest(): object | undefined {
  return requestStorage.getStore();
}

type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;

/**
 * Patch `http.Server.prototype.emit` and `https.Server.prototype.emit` (neither has an own
 * `emit`; both inherit EventEmitter's) so that request events run in `requestStorage`.
 * Returns the function that undoes it.
 */
export function trackHttpRequests(): () => void {
  // Loaded here, not imported at the top: `https` pulls in tls, which most apps never need,
  // and nothing of this is needed unless the policy is on.
  const http = process.getBuiltinModule('node:http');
  const https = process.getBuiltinModule('node:https');
  const restores = [http.Server.prototype, https.Server.prototype].map(patchEmit);
  return () => {
    for (const restore of restores) restore();
  };
}

function patchEmit(proto: object): () => void {
  const descriptor = Object.getOwnPropertyDescriptor(proto, 'emit');
  const own = descriptor?.value as Emit | undefined;
  let active = true;
  // Looked up on every call when inherited, so a later patch of EventEmitter.prototype.emit
  // (another tool's) is still honoured.
  const next = (): Emit => own ?? (Object.getPrototypeOf(proto) as { emit: Emit }).emit;
  const emit = function emit(this: unknown, event: string | symbol, request?: unknown): boolean {
    // `arguments` rather than a rest parameter: no array is built for the many other events.
    // eslint-disable-next-line prefer-rest-params
    const args = arguments as unknown as unknown[];
    if (active && REQUEST_EVENTS.has(event) && typeof request === 'object' && request !== null) {
      return requestStorage.run(request, () => Reflect.apply(next(), this, args) as boolean);
    }
    return Reflect.apply(next(), this, args) as boolean;
  };
  Object.defineProperty(proto, 'emit', {
    value: emit,
    writable: true,
    configurable: true,
    enumerable: false,
  });
  return () => {
    active = false;
    const current = (proto as { emit: Emit }).emit;
    // Someone patched on top of us: leave their function in place; ours is now a pass-through.
    if (current !== emit) return;
    if (descriptor !== undefined) Object.defineProperty(proto, 'emit', descriptor);
    else delete (proto as { emit?: Emit }).emit;
  };
}
