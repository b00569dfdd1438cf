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
 * Limit: an interceptor's RxJS pipeline (`defer`/`from`) continues a handler's promise with
 * `.then`, not `await`, which ends V8's async stack there: below such an interceptor a block
 * after an `await` is not attributed (one in the handler's first synchronous part still is).
 */
import { Module, type DynamicModule } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { startMonitor } from '../monitor/monitor.js';
import { checkOptionsObject } from '../shared/validate.js';
import type { MonitorOptions } from '../types.js';
import { loopguard as expressMiddleware } from './express.js';
import { tagFastifyRequest, wrapFastifyRoute } from './fastify-hooks.js';

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

function hookPlatform(host: HttpAdapterHost): true {
  const adapter = host.httpAdapter as PlatformAdapter | undefined;
  const type = adapter?.getType?.();
  const instance = adapter?.getInstance?.();
  if (type === 'express') {
    // Mounted before anything Nest adds at init(): it tags the request and wraps the routes.
    (instance as ExpressLike).use(expressMiddleware() as unknown as (...args: never[]) => unknown);
  } else if (type === 'fastify') {
    const fastify = instance as FastifyLike;
    fastify.addHook('onRoute', wrapFastifyRoute as (...args: never[]) => unknown);
    fastify.addHook('onRequest', tagFastifyRequest as unknown as (...args: never[]) => unknown);
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
   */
  static forRoot(options?: MonitorOptions): DynamicModule {
    if (options !== undefined) {
      checkOptionsObject('options', options, Object.keys(options ?? {}));
      startMonitor(options);
    }
    return {
      module: LoopguardModule,
      global: true,
      providers: [{ provide: SETUP, useFactory: hookPlatform, inject: [HttpAdapterHost] }],
    };
  }
}

// Decorated by hand: the build does not compile decorators, and this is all @Module() does.
Module({})(LoopguardModule);
