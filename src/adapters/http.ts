/**
 * loopguard/http: `wrap(listener)` for a bare `http.createServer` listener, and `offload(fn)`
 * to serve a request wholly from the thread pool.
 *
 * The monitor already finds node:http requests without help (option `http`); `wrap` adds
 * what only the application knows, a route pattern, still without any async context.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkFunction, checkOptionsObject } from '../shared/validate.js';
import { pathOf, tagNodeRequest } from '../request-tag.js';
import { listenInRequest } from './http-listener.js';
import {
  checkOffloadFunction,
  cloneable,
  jsonOf,
  plainHeaders,
  readBody,
  statusOf,
  type OffloadFunction,
  type OffloadInput,
} from './offload.js';
import { sendNode, Shedder, type ShedOptions } from '../telemetry/shed.js';
import {
  checkEnqueueRoute,
  checkRouteQueue,
  enqueueAnswer,
  lastSegment,
  statusAnswer,
  type EnqueueRouteOptions,
  type RouteAnswer,
  type RouteQueue,
} from './queue-routes.js';

export type { EnqueueRouteOptions, RouteQueue } from './queue-routes.js';

export type { ShedOptions } from '../telemetry/shed.js';

export type { OffloadInput } from './offload.js';

export interface WrapOptions {
  /** The route pattern of a request, read only when a block is described. */
  route?: (req: IncomingMessage) => string | undefined;
}

type Listener<Req extends IncomingMessage, Res extends ServerResponse> = (req: Req, res: Res) => unknown;

/**
 * The tag of a request whose route the app names (request-tag.ts): read only while a block is
 * described; a throwing route function must not break the description. Without a route
 * function nothing is stored: the monitor reads the method and path from the request itself.
 */
class RouteTag {
  constructor(
    readonly req: IncomingMessage,
    readonly routeOf: NonNullable<WrapOptions['route']>,
  ) {}
  get method(): string | undefined {
    return this.req.method;
  }
  get route(): string | undefined {
    try {
      return this.routeOf(this.req);
    } catch {
      return undefined;
    }
  }
}

/** Tag every request `listener` receives so blocks inside it name the method (and route). */
export function wrap<Req extends IncomingMessage, Res extends ServerResponse>(
  listener: Listener<Req, Res>,
  options: WrapOptions = {},
): Listener<Req, Res> {
  checkFunction('listener', listener);
  checkOptionsObject('options', options, ['route']);
  const route = options.route === undefined ? undefined : checkFunction<NonNullable<WrapOptions['route']>>('route', options.route);
  const wrapped = function (this: unknown, req: Req, res: Res): unknown {
    if (route === undefined) return listenInRequest(req, undefined, listener, this, [req, res]);
    tagNodeRequest(req, new RouteTag(req, route));
    return listenInRequest(req, () => routeOf(route, req), listener, this, [req, res]);
  };
  Object.defineProperty(wrapped, 'name', { value: listener.name });
  return wrapped;
}

function routeOf(route: WrapOptions['route'], req: IncomingMessage): string | undefined {
  if (route === undefined) return undefined;
  try {
    return route(req);
  } catch {
    // a throwing route function names no route
    return undefined;
  }
}

/**
 * A listener that answers every request from the thread pool with `fn`'s result as JSON:
 * `http.createServer(offload(renderReport))`. `params` is empty (node:http has no routes).
 * An error answers with its `status`/`statusCode` (else 500) and `{ "error": message }`;
 * the message of a 5xx is not sent, as it may carry internals.
 */
export function offload<P = Record<string, string>, Q = Record<string, unknown>, B = unknown>(
  fn: OffloadFunction<P, Q, B>,
): (req: IncomingMessage, res: ServerResponse) => void {
  checkOffloadFunction(fn);
  return function offloadedListener(req: IncomingMessage, res: ServerResponse): void {
    inputOf(req)
      .then((input) => fn(input as OffloadInput<P, Q, B>))
      .then(
        (result) => send(res, 200, jsonOf(result)),
        (error: unknown) => {
          const status = statusOf(error);
          const message = status < 500 && error instanceof Error ? error.message : 'Internal Server Error';
          send(res, status, JSON.stringify({ error: message }));
        },
      )
      .catch((error: unknown) => {
        res.destroy(error instanceof Error ? error : undefined);
      });
  };
}

function send(res: ServerResponse, status: number, json: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

async function inputOf(req: IncomingMessage, parsed?: unknown): Promise<OffloadInput> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of url.searchParams) {
    const existing = query[key];
    query[key] = existing === undefined ? value : ([] as string[]).concat(existing, value);
  }
  const body = parsed !== undefined ? cloneable(parsed) : await readBody(req, req.headers);
  return { params: {}, query, body, headers: plainHeaders(req.headers) };
}

/**
 * A check for the top of a node:http listener: it answers 503 with `Retry-After` while the loop
 * is overloaded (limits over a sliding window), and serves `health` for probes, and returns
 * true when it has answered: `if (guard(req, res)) return;` with `const guard = shed({...})`.
 * Options are validated here; `onShed` receives the `IncomingMessage`.
 */
export function shed(options: ShedOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const shedder = new Shedder(options);
  return function loopguardShed(req: IncomingMessage, res: ServerResponse): boolean {
    const answer = shedder.decide(req.method ?? 'GET', pathOf(req.url ?? '/'), req);
    if (answer === undefined) return false;
    sendNode(res, answer);
    return true;
  };
}

/**
 * A listener that stores a job for `fn(input)` on the queue `fn` was marked with (or `options.queue`) and answers at once with
 * `202 { id, state: 'queued', statusUrl }`: `http.createServer(enqueue(renderReport))`.
 * `input` is offload()'s `{ params, query, body, headers }` (a body a parser left on `req.body`
 * is used as it is). An error answers as offload()'s do.
 */
export function enqueue<P = Record<string, string>, Q = Record<string, unknown>, B = unknown>(
  fn: OffloadFunction<P, Q, B>,
  options?: EnqueueRouteOptions<P, Q, B>,
): (req: IncomingMessage, res: ServerResponse) => void {
  const route = checkEnqueueRoute(fn, options);
  return function enqueueListener(req: IncomingMessage, res: ServerResponse): void {
    answerNode(res, async () => {
      // A body parser ahead of it (Nest's, connect's) leaves req.body; else it is read here.
      const input = await inputOf(req, (req as { body?: unknown }).body);
      return enqueueAnswer(fn, input, pathOf(urlOf(req)), route);
    });
  };
}

/**
 * A listener serving `GET …/<id>` with `queue.status(id)` as JSON (the id is the path's last
 * segment), 404 for an id the queue does not hold: `http.createServer(jobStatus(queue))`.
 */
export function jobStatus(queue: RouteQueue): (req: IncomingMessage, res: ServerResponse) => void {
  checkRouteQueue('queue', queue);
  return function jobStatusListener(req: IncomingMessage, res: ServerResponse): void {
    answerNode(res, () => statusAnswer(queue, lastSegment(pathOf(urlOf(req)))));
  };
}

/** The URL as the client sent it: a router that mounted this at a path (Express, Nest) keeps it in originalUrl. */
function urlOf(req: IncomingMessage): string {
  return (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
}


/** Send `make()`'s answer on a node:http response; an error as offload() answers one. */
export function answerNode(res: ServerResponse, make: () => Promise<RouteAnswer>): void {
  make().then(
    (answer) => {
      res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
      res.end(answer.body);
    },
    (error: unknown) => {
      const status = statusOf(error);
      const message = status < 500 && error instanceof Error ? error.message : 'Internal Server Error';
      send(res, status, JSON.stringify({ error: message }));
    },
  ).catch((error: unknown) => res.destroy(error instanceof Error ? error : undefined));
}
