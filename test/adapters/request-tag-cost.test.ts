/**
 * What keeps the request tag cheap (issue 8 point 8): one store per request, of an object made
 * once per route where the route is known up front, under a symbol no serialiser sees. These
 * tests hold the shape to that, and check that the cheap shape still describes a request as
 * the richer one did: getters read late, two tags merged, a throwing getter harmless.
 */
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import express from 'express';
import Fastify from 'fastify';
import { loopguard as expressLoopguard } from 'loopguard/express';
import { loopguard as fastifyLoopguard } from 'loopguard/fastify';
import { describeRequest, tagNodeRequest, tagRequest } from '../../src/request-tag.js';
import { closeAfterEach, getJson } from './helpers.js';

const TAG = Symbol.for('loopguard.v1.requestTag');

const { fastifies, serveNode } = closeAfterEach();

function incoming(method: string, url: string): IncomingMessage {
  const request = new IncomingMessage(new Socket());
  request.method = method;
  request.url = url;
  return request;
}

describe('the request tag', () => {
  it('is one object per Fastify route, the same on every request, stored on the node:http request only', async () => {
    const fastify = Fastify();
    fastifies.push(fastify);
    await fastify.register(fastifyLoopguard);
    const seen: Array<{ raw: unknown; own: boolean; hookRan: boolean }> = [];
    let hookRan = false;
    fastify.get(
      '/users/:id',
      {
        // The route's own hooks keep running, after the tag is stored.
        onRequest: (request, _reply, done) => {
          hookRan = (request.raw as unknown as Record<symbol, unknown>)[TAG] !== undefined;
          done();
        },
      },
      async (request) => {
        seen.push({
          raw: (request.raw as unknown as Record<symbol, unknown>)[TAG],
          own: Object.getOwnPropertySymbols(request).includes(TAG),
          hookRan,
        });
        return describeRequest(request) ?? null;
      },
    );
    const base = await fastify.listen({ port: 0, host: '127.0.0.1' });
    const first = await getJson(`${base}/users/7`);
    await getJson(`${base}/users/8`);
    expect(first.body).toEqual({ method: 'GET', route: '/users/:id', path: '/users/7' });
    expect(seen).toHaveLength(2);
    expect(seen[0]?.raw).toBeDefined();
    expect(seen[1]?.raw).toBe(seen[0]?.raw);
    expect(seen.map((s) => s.own)).toEqual([false, false]);
    expect(seen.map((s) => s.hookRan)).toEqual([true, true]);
  });

  it('is invisible to JSON.stringify, Object.keys and for…in of an Express request', async () => {
    const app = express();
    app.use(expressLoopguard());
    app.get('/users/:id', (req, res) => {
      const keys: string[] = [];
      for (const key in req) keys.push(key);
      res.json({
        symbol: Object.getOwnPropertySymbols(req).includes(TAG),
        inKeys: [...Object.keys(req), ...keys].filter((key) => key.includes('loopguard')),
        inJson: JSON.stringify({ ...req, socket: undefined, client: undefined, res: undefined }).includes('loopguard'),
        described: describeRequest(req),
      });
    });
    const { body } = await getJson(`${await serveNode(app)}/users/7`);
    expect(body).toEqual({
      symbol: true,
      inKeys: [],
      inJson: false,
      described: { method: 'GET', route: '/users/:id', path: '/users/7' },
    });
  });

  it('reads a class tag by its context keys only, its getters when the block is described', () => {
    const request = incoming('GET', '/orders/9?secret=1');
    let route: string | undefined = undefined;
    class LateTag {
      constructor(readonly request: IncomingMessage) {}
      get route(): string | undefined {
        return route;
      }
    }
    tagNodeRequest(request, new LateTag(request));
    expect(describeRequest(request)).toEqual({ method: 'GET', path: '/orders/9' });
    route = '/orders/:id';
    expect(describeRequest(request)).toEqual({ method: 'GET', path: '/orders/9', route: '/orders/:id' });
  });

  it('keeps two tags on one request, the later winning key by key', () => {
    const request = incoming('POST', '/a');
    tagNodeRequest(request, { route: '/first', name: 'checkout' });
    tagNodeRequest(request, { route: '/second' });
    expect(describeRequest(request)).toEqual({ method: 'POST', path: '/a', route: '/second', name: 'checkout' });
  });

  it('keeps the method and path when a getter of the tag throws', () => {
    const request = incoming('GET', '/b');
    class Throwing {
      get route(): string {
        throw new Error('no route table');
      }
    }
    tagNodeRequest(request, new Throwing());
    expect(describeRequest(request)).toEqual({ method: 'GET', path: '/b' });
  });

  it('tags the node:http request behind a framework object, and describes it from either', () => {
    const raw = incoming('GET', '/c/1');
    const koaLike = { req: raw, method: 'GET', url: '/c/1', headers: {}, originalUrl: '/c/1' };
    tagRequest(koaLike, { route: '/c/:id' });
    expect(Object.getOwnPropertySymbols(koaLike)).not.toContain(TAG);
    expect(describeRequest(raw)).toEqual({ method: 'GET', path: '/c/1', route: '/c/:id' });
    expect(describeRequest(koaLike)).toEqual({ method: 'GET', path: '/c/1', route: '/c/:id' });
  });
});
