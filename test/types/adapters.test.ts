/** Type tests for the adapters: what each returns plugs into its framework without casts. */
import { describe, expectTypeOf, it } from 'vitest';
import type { RequestHandler } from 'express';
import type { FastifyPluginCallback, RouteHandlerMethod } from 'fastify';
import type { Middleware } from 'koa';
import type { Handler, MiddlewareHandler } from 'hono';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { loopguard as expressLoopguard, offload as expressOffload } from '../../src/adapters/express.js';
import { loopguard as fastifyLoopguard, offload as fastifyOffload } from '../../src/adapters/fastify.js';
import { loopguard as koaLoopguard, offload as koaOffload } from '../../src/adapters/koa.js';
import { loopguard as honoLoopguard, offload as honoOffload } from '../../src/adapters/hono.js';
import { offload as httpOffload, wrap } from '../../src/adapters/http.js';
import type { OffloadInput } from '../../src/adapters/offload.js';
import type { DynamicModule } from '@nestjs/common';
import { LoopguardModule } from '../../src/adapters/nestjs.js';

declare const renderReport: (input: OffloadInput<{ id: string }, { days?: string }>) => Promise<{ total: number }>;

describe('adapter types', () => {
  it('middleware and plugins have their framework types', () => {
    expectTypeOf(expressLoopguard()).toEqualTypeOf<RequestHandler>();
    expectTypeOf(fastifyLoopguard).toEqualTypeOf<FastifyPluginCallback>();
    expectTypeOf(koaLoopguard()).toEqualTypeOf<Middleware>();
    expectTypeOf(honoLoopguard()).toEqualTypeOf<MiddlewareHandler>();
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
