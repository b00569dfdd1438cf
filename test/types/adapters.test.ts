/** Type tests for the adapters: what each returns plugs into its framework without casts. */
import { describe, expectTypeOf, it } from 'vitest';
import type { RequestHandler } from 'express';
import type { FastifyPluginCallback, RouteHandlerMethod } from 'fastify';
import type { Middleware } from 'koa';
import type { Handler, MiddlewareHandler } from 'hono';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { loopguard as expressLoopguard, offload as expressOffload, shed as expressShed } from '../../src/adapters/express.js';
import { loopguard as fastifyLoopguard, offload as fastifyOffload, shed as fastifyShed } from '../../src/adapters/fastify.js';
import { loopguard as koaLoopguard, offload as koaOffload, shed as koaShed } from '../../src/adapters/koa.js';
import { loopguard as honoLoopguard, offload as honoOffload, shed as honoShed } from '../../src/adapters/hono.js';
import { offload as httpOffload, shed as httpShed, wrap } from '../../src/adapters/http.js';
import type { OffloadInput } from '../../src/adapters/offload.js';
import type { DynamicModule } from '@nestjs/common';
import { LoopguardModule, shed as nestShed } from '../../src/adapters/nestjs.js';

declare const renderReport: (input: OffloadInput<{ id: string }, { days?: string }>) => Promise<{ total: number }>;

describe('adapter types', () => {
  it('middleware and plugins have their framework types', () => {
    expectTypeOf(expressLoopguard()).toEqualTypeOf<RequestHandler>();
    expectTypeOf(fastifyLoopguard).toEqualTypeOf<FastifyPluginCallback>();
    expectTypeOf(koaLoopguard()).toEqualTypeOf<Middleware>();
    expectTypeOf(honoLoopguard()).toEqualTypeOf<MiddlewareHandler>();
  });

  it('shed() returns each framework\'s middleware type and types its options', () => {
    // Checked by tsc, never run: each call would start a sampling timer.
    const sheds = () => {
      const options = { maxDelay: 200, window: 5000, retryAfter: 10, health: '/health', onShed: (_req: unknown, _reason: string) => {} };
      expectTypeOf(expressShed(options)).toEqualTypeOf<RequestHandler>();
      expectTypeOf(fastifyShed(options)).toEqualTypeOf<FastifyPluginCallback>();
      expectTypeOf(koaShed(options)).toEqualTypeOf<Middleware>();
      expectTypeOf(honoShed(options)).toEqualTypeOf<MiddlewareHandler>();
      expectTypeOf(httpShed(options)).toEqualTypeOf<(req: IncomingMessage, res: ServerResponse) => boolean>();
      expectTypeOf(nestShed(options)).toBeFunction();
      expectTypeOf(LoopguardModule.forRoot({ threshold: 100, shed: options })).toEqualTypeOf<DynamicModule>();
      // @ts-expect-error maxDelay is a number
      expressShed({ maxDelay: '200' });
    };
    expectTypeOf(sheds).toBeFunction();
  });

  it("LoopguardModule.forRoot() is a Nest dynamic module and takes the monitor's options", () => {
    // Checked by tsc, never run: forRoot with options would start a monitor.
    const modules = () => {
      expectTypeOf(LoopguardModule.forRoot()).toEqualTypeOf<DynamicModule>();
      expectTypeOf(LoopguardModule.forRoot({ threshold: 100 })).toEqualTypeOf<DynamicModule>();
      // @ts-expect-error threshold is a number
      LoopguardModule.forRoot({ threshold: '100' });
    };
    expectTypeOf(modules).toBeFunction();
  });

  it('offload takes a route function with typed params and query and returns a handler', () => {
    // Checked by tsc, never run: renderReport is declared, not defined.
    const handlers = () => {
      expectTypeOf(expressOffload(renderReport)).toEqualTypeOf<RequestHandler>();
      expectTypeOf(fastifyOffload(renderReport)).toEqualTypeOf<RouteHandlerMethod>();
      expectTypeOf(koaOffload(renderReport)).toEqualTypeOf<Middleware>();
      expectTypeOf(honoOffload(renderReport)).toEqualTypeOf<Handler>();
      expectTypeOf(httpOffload(renderReport)).toEqualTypeOf<(req: IncomingMessage, res: ServerResponse) => void>();
    };
    expectTypeOf(handlers).toBeFunction();
  });

  it('wrap keeps the listener type', () => {
    const listener = (_req: IncomingMessage, _res: ServerResponse): void => undefined;
    expectTypeOf(wrap(listener)).toMatchTypeOf<(req: IncomingMessage, res: ServerResponse) => unknown>();
  });
});
