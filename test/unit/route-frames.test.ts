/**
 * The named route frames behind attribution after awaits (src/shared/route-frames.ts): the
 * wrapper changes nothing a framework can observe, and the frame it leaves in a stack taken
 * two awaits below the handler resolves to the route.
 */
import { describe, expect, it } from 'vitest';
import { attributeRouteFrames, wrapRouteHandler } from '../../src/shared/route-frames.js';
import { parseStack } from '../../src/shared/stack-text.js';

function query(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function repository(): Promise<string | undefined> {
  await query();
  return new Error().stack;
}

async function service(): Promise<string | undefined> {
  await Promise.resolve();
  return repository();
}

describe('a route handler wrapper', () => {
  it('keeps a sync handler sync: its value is returned and its throw is thrown, not a promise', () => {
    const value = wrapRouteHandler(() => 42, { method: 'GET', route: '/a' });
    const throws = wrapRouteHandler(
      () => {
        throw new Error('sync');
      },
      { method: 'GET', route: '/b' },
    );
    expect(value()).toBe(42);
    expect(() => throws()).toThrow('sync');
  });

  it('passes this and every argument on, and keeps the length Express reads', () => {
    const seen: unknown[] = [];
    const handler = function (this: unknown, err: unknown, req: unknown, res: unknown, next: unknown): void {
      seen.push(this, err, req, res, next);
    };
    const wrapped = wrapRouteHandler(handler, { route: '/c' });
    const receiver = { name: 'layer' };
    wrapped.call(receiver, 1, 2, 3, 4);
    expect(wrapped.length).toBe(4);
    expect(seen).toEqual([receiver, 1, 2, 3, 4]);
  });

  it('leaves a frame two awaits below a handler that is not async, which names the route and is dropped', async () => {
    // Not async: it returns the service's promise.
    const handler = (): Promise<string | undefined> => service();
    const stackText = await wrapRouteHandler(handler, { method: 'GET', route: '/users/:id' })();
    const { stack, context } = attributeRouteFrames(parseStack(stackText ?? ''), undefined);
    expect(context).toEqual({ method: 'GET', route: '/users/:id' });
    expect(stack.map((frame) => frame.function)).toContain('repository');
    expect(stack.some((frame) => frame.function.includes('loopguard·route'))).toBe(false);
  });

  it('gives way to a route the context already has (withContext, or a tagged request)', async () => {
    const stackText = await wrapRouteHandler(() => service(), { method: 'GET', route: '/users/:id' })();
    const { context } = attributeRouteFrames(parseStack(stackText ?? ''), { method: 'POST', route: '/explicit' });
    expect(context).toEqual({ method: 'POST', route: '/explicit' });
  });

  it('drops a path found for a request of another method', async () => {
    const stackText = await wrapRouteHandler(() => service(), { method: 'GET', route: '/users/:id' })();
    const { context } = attributeRouteFrames(parseStack(stackText ?? ''), { method: 'POST', path: '/other' });
    expect(context).toEqual({ method: 'GET', route: '/users/:id' });
  });
});
