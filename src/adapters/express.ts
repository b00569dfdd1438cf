/**
 * loopguard/express: `loopguard()` tags each request with its method and route pattern, and
 * `offload(fn)` serves a route wholly from the thread pool. Works with Express 4 and 5.
 *
 * Only types come from express, so importing this module loads no framework.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { pathOf, tagNodeRequest } from '../request-tag.js';
import { expressRoutePattern } from './express-route.js';
import { wrapExpressRoutes } from './express-wrap.js';
import { checkOffloadFunction, nodeRequestInput, type OffloadFunction, type OffloadInput } from './offload.js';
import { sendNode, Shedder, type ShedOptions } from '../telemetry/shed.js';
import {
  checkEnqueueRoute,
  checkRouteQueue,
  enqueueAnswer,
  statusAnswer,
  type EnqueueRouteOptions,
  type RouteQueue,
} from './queue-routes.js';

export type { EnqueueRouteOptions, RouteQueue } from './queue-routes.js';

export type { ShedOptions } from '../telemetry/shed.js';

export type { OffloadInput } from './offload.js';
export { expressRoutePattern as routePattern } from './express-route.js';

/**
 * The tag on an Express request (request-tag.ts): one small object per request; its getters
 * run only while a block is described. Read at block time: req.route is set only once a route
 * matched, and req.baseUrl is the mount path of the router that is running then (it changes as
 * routers nest).
 */
class ExpressTag {
  constructor(readonly req: Request) {}
  get method(): string {
    return this.req.method;
  }
  get route(): string | undefined {
    return expressRoutePattern(this.req);
  }
}

/**
 * Middleware that lets the monitor name the route a block happened in. Mount it first:
 * `app.use(loopguard())`. It adds no async context; it stores a tag on `req` whose getter the
 * monitor reads only while describing a block. The app's route handlers are put, once each,
 * inside a frame named after their route, so a block after any `await` chain below a handler
 * still names its route (express-wrap.ts).
 */
export function loopguard(): RequestHandler {
  return function loopguardMiddleware(req: Request, _res: Response, next: NextFunction): void {
    wrapExpressRoutes(req.app);
    // Express's req is the node:http request itself.
    tagNodeRequest(req, new ExpressTag(req));
    next();
  };
}

/**
 * Serve a route from the thread pool: `app.post('/report', offload(renderReport))`, where
 * `renderReport = threaded(function renderReport({ params, query, body, headers }) {...})`.
 * The result is sent as JSON; an error goes to `next(err)`, so Express's error handling
 * answers with the error's `status`/`statusCode`, else 500.
 */
export function offload<P = Record<string, string>, Q = Record<string, unknown>, B = unknown>(
  fn: OffloadFunction<P, Q, B>,
): RequestHandler {
  checkOffloadFunction(fn);
  return function offloadedRoute(req: Request, res: Response, next: NextFunction): void {
    // A body parser (express.json()) leaves req.body set; without one, the body is read there.
    // Express 4's parsers set {} even for a request without a body: the headers say there is none.
    nodeRequestInput(req, req.body, req.params, req.query)
      .then((input) => fn(input as OffloadInput<P, Q, B>))
      .then((result) => {
        res.json(result === undefined ? null : result);
      })
      .catch(next);
  };
}

/**
 * Answer 503 with `Retry-After` while the loop is overloaded (limits over a sliding window),
 * and serve `health` for probes: `app.use(shed({ maxDelay: 200, health: '/health' }))`, mounted
 * before the routes. Options are validated here; `onShed` receives the Express `req`.
 */
export function shed(options: ShedOptions): RequestHandler {
  const shedder = new Shedder(options);
  return function loopguardShed(req: Request, res: Response, next: NextFunction): void {
    const answer = shedder.decide(req.method, pathOf(req.url), req);
    if (answer === undefined) next();
    else sendNode(res, answer);
  };
}

/**
 * Store a job for `fn(input)` on the queue `fn` was marked with (`threaded(fn, { queue })`, or `options.queue`) and answer at once with
 * `202 { id, state: 'queued', statusUrl }`: `app.post('/reports', enqueue(renderReport))`.
 * `input` is offload()'s; `statusUrl` is by default the request's path + `/<id>`, where
 * `jobStatus(queue)` answers (`app.get('/reports/:id', jobStatus(queue))`). Errors go to `next(err)`.
 */
export function enqueue<P = Record<string, string>, Q = Record<string, unknown>, B = unknown>(
  fn: OffloadFunction<P, Q, B>,
  options?: EnqueueRouteOptions<P, Q, B>,
): RequestHandler {
  const route = checkEnqueueRoute(fn, options);
  return function enqueueRoute(req: Request, res: Response, next: NextFunction): void {
    nodeRequestInput(req, req.body, req.params, req.query)
      .then((input) => enqueueAnswer(fn, input, req.baseUrl + req.path, route))
      .then((answer) => {
        res.status(answer.status).set(answer.headers).send(answer.body);
      })
      .catch(next);
  };
}

/** Serve `GET …/:id` with `queue.status(id)` as JSON, 404 for an unknown id: `app.get('/jobs/:id', jobStatus(queue))`. */
export function jobStatus(queue: RouteQueue): RequestHandler {
  checkRouteQueue('queue', queue);
  return function jobStatusRoute(req: Request, res: Response, next: NextFunction): void {
    statusAnswer(queue, (req.params as Record<string, string | undefined>)['id'])
      .then((answer) => {
        res.status(answer.status).set(answer.headers).send(answer.body);
      })
      .catch(next);
  };
}
