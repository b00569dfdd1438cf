/**
 * loopguard/nestjs: `LoopguardModule.forRoot(options?)`, imported into the app's root module,
 * names the controller route (`GET /cats/:id`) of a block anywhere below a handler, after any
 * `await` chain, on both of Nest's platforms.
 *
 * Nest registers every controller route on its platform's router (Express's router stack,
 * Fastify's routes, global prefix and versions included), so the module hooks the platform
 * before Nest registers the routes, and uses the Express or Fastify adapter's own wrapping
 * (shared/route-frames.ts): each route handler is put inside a frame named after its route,
 * once, never per request. The platform's instance is known from `HttpAdapterHost` while the
 * module's providers are created, which Nest does before it registers routes (`app.init()`).
 *
 * `forRoot({ shed: {...} })` also sheds load (telemetry/shed.ts) on either platform, mounted
 * before every route; `shed(options)` is the same as a plain node middleware for `app.use()`.
 *
 * Limit: an interceptor's RxJS pipeline (`defer`/`from`) continues a handler's promise with
 * `.then`, not `await`, which ends V8's async stack there: below such an interceptor a block
 * after an `await` is not attributed (one in the handler's first synchronous part still is)
 * unless the per-request context is on (Node 24+ by default, `requestContext: true` on 20/22):
 * it follows `.then`. Measured with Nest 11 on Express, Node 20: the controller method's own
 * frame and a service's are both below Nest's `router-execution-context` closure only, with no
 * route frame; a route seen there now and then (1 run of 3) is, we infer, the paused-frame walk's.
 */
import { Module, type DynamicModule } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { startMonitor } from '../monitor/monitor.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pathOf } from '../request-tag.js';
import { checkOptionsObject } from '../shared/validate.js';
import { sendNode, Shedder, type ShedOptions } from '../telemetry/shed.js';
import type { MonitorOptions } from '../types.js';
import { loopguard as expressMiddleware } from './express.js';
import { wrapFastifyRoute } from './fastify-hooks.js';

/** The token of the provider that hooks the platform (created eagerly by Nest). */
const SETUP = 'LOOPGUARD_NESTJS_SETUP';

interface PlatformAdapter {
  getType?: () => string;
  getInstance?: () => unknown;
}

interface FastifyLike {
  addHook(name: string, hook: (...args: never[]) => unknown): unknown;
}

interface ExpressLike {
  use(handler: (...args: never[]) => unknown): unknown;
}

export type { ShedOptions } from '../telemetry/shed.js';

/**
 * The job-queue routes as node middleware, for either platform (Nest hands both the node:http
 * request): `consumer.apply(enqueue(renderReport)).forRoutes({ path: 'reports',
 * method: RequestMethod.POST })` answers 202 `{ id, state, statusUrl }`, and
 * `consumer.apply(jobStatus(queue)).forRoutes({ path: 'reports/:id', method: RequestMethod.GET })`
 * serves the status (the id is the path's last segment). `input.params` is empty there.
 */
export { enqueue, jobStatus, type EnqueueRouteOptions, type RouteQueue } from './http.js';

/** `LoopguardModule.forRoot()`'s options: the monitor's, and `shed` to shed load. */
export interface LoopguardModuleOptions extends MonitorOptions {
  shed?: ShedOptions;
}

type NodeMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

function shedMiddleware(shedder: Shedder): NodeMiddleware {
  return function loopguardShed(req, res, next): void {
    const answer = shedder.decide(req.method ?? 'GET', pathOf(req.url ?? '/'), req);
    if (answer === undefined) next();
    else sendNode(res, answer);
  };
}

/**
 * A node middleware shedding load, for `app.use(shed({...}))` after `NestFactory.create()` on
 * either platform (Nest hands both Express and Fastify middleware the node:http request).
 * `onShed` receives the `IncomingMessage`. `forRoot({ shed })` does the same without `app.use`.
 */
export function shed(options: ShedOptions): NodeMiddleware {
  return shedMiddleware(new Shedder(options));
}

function hookPlatform(host: HttpAdapterHost, shedder: Shedder | undefined): true {
  const adapter = host.httpAdapter as PlatformAdapter | undefined;
  const type = adapter?.getType?.();
  const instance = adapter?.getInstance?.();
  if (type === 'express') {
    // Mounted before anything Nest adds at init(): it tags the request and wraps the routes.
    if (shedder !== undefined) (instance as ExpressLike).use(shedMiddleware(shedder) as unknown as (...args: never[]) => unknown);
    (instance as ExpressLike).use(expressMiddleware() as unknown as (...args: never[]) => unknown);
  } else if (type === 'fastify') {
    const fastify = instance as FastifyLike;
    if (shedder !== undefined) {
      // Answered on the node:http response, Fastify told to keep off it (hijack).
      fastify.addHook('onRequest', ((request: { raw: IncomingMessage }, reply: { raw: ServerResponse; hijack(): void }, done: () => void) => {
        const answer = shedder.decide(request.raw.method ?? 'GET', pathOf(request.raw.url ?? '/'), request.raw);
        if (answer === undefined) {
          done();
          return;
        }
        reply.hijack();
        sendNode(reply.raw, answer);
      }) as unknown as (...args: never[]) => unknown);
    }
    fastify.addHook('onRoute', wrapFastifyRoute as (...args: never[]) => unknown);
  }
  // Another platform (or a standalone application context): nothing to hook, no error.
  return true;
}

/** `imports: [LoopguardModule.forRoot()]` in the root module. */
export class LoopguardModule {
  /**
   * @param options the monitor's options: the module starts the monitor (or uses the one
   * already running in the process, as `startMonitor` does). Without options, it only names
   * routes for a monitor started elsewhere (`loopguard/register`, `startMonitor()`).
   * `shed` (not a monitor option) sheds load on every route; it is validated here.
   */
  static forRoot(options?: LoopguardModuleOptions): DynamicModule {
    let shedder: Shedder | undefined;
    if (options !== undefined) {
      const { shed: shedOptions, ...monitorOptions } = checkOptionsObject('options', options, Object.keys(options ?? {})) as LoopguardModuleOptions;
      if (shedOptions !== undefined) shedder = new Shedder(shedOptions);
      if (shedOptions === undefined || Object.keys(monitorOptions).length > 0) startMonitor(monitorOptions);
    }
    return {
      module: LoopguardModule,
      global: true,
      providers: [{ provide: SETUP, useFactory: (host: HttpAdapterHost) => hookPlatform(host, shedder), inject: [HttpAdapterHost] }],
    };
  }
}

// Decorated by hand: the build does not compile decorators, and this is all @Module() does.
Module({})(LoopguardModule);
