/**
 * Running a node:http 'request' listener so that its blocks name the request: loopguard/http's
 * `wrap()` and the zero-code listener wrapper (zero-code/http-requests.ts) both call it.
 */
import type { IncomingMessage } from 'node:http';
import { pathOf } from '../request-tag.js';
import { callInRequest, requestContextsOn } from '../shared/request-context.js';
import { isThenable, requestSlot } from '../shared/route-frames.js';

/**
 * `listener.apply(self, args)` for the request `req`: inside a per-request context where that
 * is on (shared/request-context.ts), the path and `routeOf()` read before the call, which only
 * that costs; and, when the listener returns a promise, awaited inside a frame that stands for
 * this request while it runs, so a block after its awaits still names the method and path
 * (shared/route-frames.ts), the path and route read once the listener has returned.
 */
export function listenInRequest(
  req: IncomingMessage,
  routeOf: (() => string | undefined) | undefined,
  listener: (...args: never[]) => unknown,
  self: unknown,
  args: unknown[],
): unknown {
  const result = requestContextsOn()
    ? callInRequest({ method: req.method, path: pathOf(req.url ?? '/'), route: routeOf?.() }, listener, self, args)
    : Reflect.apply(listener, self, args);
  if (!isThenable(result)) return result;
  const slot = requestSlot();
  slot.entry.method = req.method;
  slot.entry.path = pathOf(req.url ?? '/');
  slot.entry.route = routeOf?.();
  return slot.run(result);
}
