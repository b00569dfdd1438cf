/**
 * The full route pattern of an Express request, mount paths included, read only when a
 * block is described (never per request).
 *
 * `req.baseUrl` is the matched mount *path* (`/shops/42`), not its pattern, so for mounts with
 * parameters the router tree is walked from the app: each mounted router whose layer matches
 * the URL is entered until the layer holding `req.route` is found. Matching must not write
 * to the layers (Express 4's `layer.match()` stores the match on the layer, shared by every
 * request), so Express 4 layers are matched with their own RegExp, and Express 5 layers only
 * where `router` ≥ 2.3 gives a pure `match()` returning the pattern (`rawPath`). Where the
 * walk finds nothing, `baseUrl` is used as it is.
 */

interface Express4Layer {
  regexp?: RegExp & { fast_slash?: boolean; fast_star?: boolean };
  keys?: Array<{ name: string | number }>;
}
interface Express5Layer {
  rawPath?: unknown;
  slash?: boolean;
  match?: (path: string) => false | { path: string; pattern: unknown };
}
type Layer = Express4Layer &
  Express5Layer & {
    route?: unknown;
    handle?: { stack?: unknown };
  };

interface RoutedRequest {
  route?: { path?: unknown };
  baseUrl?: unknown;
  originalUrl?: unknown;
  url?: unknown;
  app?: { _router?: { stack?: unknown }; router?: { stack?: unknown } };
}

const MAX_DEPTH = 16;

/** `/shop/items/:sku` for a route `/items/:sku` in a router mounted at `/shop`; undefined before routing. */
export function expressRoutePattern(request: unknown): string | undefined {
  try {
    const req = request as RoutedRequest;
    const route = req.route;
    if (route === undefined || route === null) return undefined;
    const routePath = Array.isArray(route.path) ? route.path.map(String).join('|') : String(route.path);
    const baseUrl = typeof req.baseUrl === 'string' ? req.baseUrl : '';
    const base = baseUrl === '' ? '' : (mountPattern(req, route) ?? baseUrl);
    if (base === '') return routePath;
    return routePath === '/' ? base : base + routePath;
  } catch {
    return undefined;
  }
}

function mountPattern(req: RoutedRequest, route: object): string | undefined {
  // Express 4 keeps the root router in app._router; Express 5 in app.router.
  const root = req.app?._router ?? req.app?.router;
  const url = typeof req.originalUrl === 'string' ? req.originalUrl : String(req.url ?? '');
  const path = url.replace(/[?#].*$/, '');
  if (!Array.isArray(root?.stack)) return undefined;
  return search(root.stack as Layer[], path, route, '', 0);
}

function search(stack: Layer[], path: string, route: object, prefix: string, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return undefined;
  for (const layer of stack) {
    if (layer.route === route) {
      if (matchLayer(layer, path) !== undefined) return prefix;
      continue;
    }
    const child = layer.handle?.stack;
    if (layer.route !== undefined || !Array.isArray(child)) continue;
    const match = matchLayer(layer, path);
    if (match === undefined) continue;
    let rest = path.slice(match.matched.length);
    if (!rest.startsWith('/')) rest = `/${rest}`;
    const found = search(child as Layer[], rest, route, prefix + match.pattern, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** What a layer matched at the start of `path` and the pattern that matched it, without side effects. */
function matchLayer(layer: Layer, path: string): { matched: string; pattern: string } | undefined {
  if (layer.regexp instanceof RegExp && Array.isArray(layer.keys)) return matchExpress4(layer, path);
  if ('rawPath' in layer && typeof layer.match === 'function') {
    if (layer.slash === true) return { matched: '', pattern: '' };
    const match = layer.match(path);
    if (match === false) return undefined;
    const pattern = typeof match.pattern === 'string' ? match.pattern : match.path;
    return { matched: match.path, pattern: trimSlash(pattern) };
  }
  return undefined;
}

function matchExpress4(layer: Express4Layer, path: string): { matched: string; pattern: string } | undefined {
  const regexp = layer.regexp as NonNullable<Express4Layer['regexp']>;
  if (regexp.fast_slash === true) return { matched: '', pattern: '' };
  const match = regexp.exec(path);
  if (match === null) return undefined;
  const matched = match[0];
  // Put the parameter names back where their values were matched, left to right.
  let pattern = '';
  let position = 0;
  (layer.keys ?? []).forEach((key, index) => {
    const value = match[index + 1];
    if (value === undefined || value === '') return;
    const at = matched.indexOf(value, position);
    if (at === -1) return;
    pattern += `${matched.slice(position, at)}:${String(key.name)}`;
    position = at + value.length;
  });
  pattern += matched.slice(position);
  return { matched, pattern: trimSlash(pattern) };
}

function trimSlash(pattern: string): string {
  return pattern.length > 1 && pattern.endsWith('/') ? pattern.slice(0, -1) : pattern === '/' ? '' : pattern;
}
