/**
 * Putting every Express route handler inside a named route frame (shared/route-frames.ts), so
 * blocks after `await`s are attributed. Express has no hook for routes being added, so the
 * router tree of the app is walked from the loopguard middleware: on the first request, and
 * again whenever the app's own router has gained layers since (list-growth.ts: two
 * comparisons per request).
 * Only route layers are wrapped (`app.get(...)`, `router.post(...)`), never `app.use()`
 * middleware, and each only once: a wrapped handle is recognised and left alone.
 * A route added to an already-mounted sub-router after the first request is not seen.
 */
import { isRouteWrapped, wrapRouteHandler } from '../shared/route-frames.js';
import { expressRoutePattern } from './express-route.js';
import { ListGrowth } from './list-growth.js';

interface RouteLayer {
  handle?: unknown;
  method?: unknown;
}
interface StackLayer {
  route?: { path?: unknown; stack?: unknown };
  handle?: { stack?: unknown };
}
interface ExpressApp {
  _router?: { stack?: unknown };
  router?: { stack?: unknown };
}

const MAX_DEPTH = 16;
const growth = new ListGrowth();

/** Wrap the route handlers of `app` not wrapped yet; cheap when nothing changed. */
export function wrapExpressRoutes(app: unknown): void {
  try {
    const holder = app as ExpressApp | undefined;
    // Express 4 keeps the root router in app._router; Express 5 in app.router.
    const stack = (holder?._router ?? holder?.router)?.stack;
    if (!Array.isArray(stack) || !growth.changed(stack)) return;
    walk(stack as StackLayer[], 0);
  } catch {
    // an app shaped unlike Express: attribution falls back to the request tag
  }
}

function walk(stack: StackLayer[], depth: number): void {
  for (const layer of stack) {
    const route = layer.route;
    if (route !== undefined && route !== null) {
      if (Array.isArray(route.stack)) wrapRoute(route as { path?: unknown; stack: RouteLayer[] });
      continue;
    }
    const child = layer.handle?.stack;
    if (Array.isArray(child) && depth < MAX_DEPTH) walk(child as StackLayer[], depth + 1);
  }
}

function wrapRoute(route: { path?: unknown; stack: RouteLayer[] }): void {
  for (const routeLayer of route.stack) {
    const handle = routeLayer.handle;
    if (typeof handle !== 'function' || isRouteWrapped(handle)) continue;
    const method = typeof routeLayer.method === 'string' ? routeLayer.method.toUpperCase() : undefined;
    const path = Array.isArray(route.path) ? route.path.map(String).join('|') : String(route.path);
    // The route's own path until the first request tells the full pattern with mount paths.
    routeLayer.handle = wrapRouteHandler(
      handle as (...args: never[]) => unknown,
      { method, route: path },
      (args) => {
        // An error handler is called (err, req, res, next).
        const request = args.length === 4 ? args[1] : args[0];
        const pattern = expressRoutePattern(request);
        return pattern === undefined ? undefined : { route: pattern };
      },
    );
  }
}
