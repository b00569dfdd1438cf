import { get } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { BlockEvent, BlockerSummary, LoopStats } from 'loopguard';
import { runFixture, type Fixture } from './fixture.js';

function request(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

describe('a node:http service with a blocking route', () => {
  let server: Fixture | undefined;
  afterEach(() => {
    if (server?.child.exitCode === null) server.child.kill();
  });

  it('reports one block naming the function, its file and the request, then exits by itself after stop()', async () => {
    server = runFixture('http-server.mjs');
    const { port } = await server.waitFor<{ port: number }>((line) => line['type'] === 'listening');
    for (let i = 0; i < 20; i++) await request(port, `/light?i=${i}`);
    await request(port, '/slow?token=secret');
    const { event } = await server.waitFor<{ event: BlockEvent }>(
      (line) => line['type'] === 'block' && (line['event'] as BlockEvent).context !== undefined,
    );
    server.child.send('finish');
    const summary = await server.waitFor<{ stats: LoopStats; top: BlockerSummary[] }>(
      (line) => line['type'] === 'summary',
    );
    const exit = await server.exited;

    // Exactly one block happened while a request was being served: the twenty light ones made
    // none. (Stalls of a loaded machine land in the idle loop, with no request, if at all.)
    const requestBlocks = server.lines.filter(
      (line) => line['type'] === 'block' && (line['event'] as BlockEvent).context !== undefined,
    );
    expect(requestBlocks).toHaveLength(1);
    expect(event.duration).toBeGreaterThanOrEqual(250);
    expect(event.duration).toBeLessThanOrEqual(2000);
    expect(event.cause).toBe('js');
    expect(event.stack[0]).toMatchObject({ function: 'spinFor' });
    expect(event.stack[0]?.file).toMatch(/busy\.mjs$/);
    expect(event.context).toEqual({ method: 'GET', path: '/slow' });
    expect(summary.stats.delay.max).toBeGreaterThanOrEqual(250);
    expect(summary.stats.routes).toMatchObject({ 'GET /slow': { blocks: 1 } });
    expect(Object.keys(summary.stats.routes)).toEqual(['GET /slow']);
    expect(summary.top[0]?.site).toMatch(/^spinFor \(.*busy\.mjs:\d+\)$/);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(server.stderr()).not.toContain('Waiting for the debugger');
    // The json log line is on stderr and carries the pid; the query string is never logged.
    expect(server.stderr()).toContain(`"pid":${server.child.pid}`);
    expect(server.stderr()).not.toContain('secret');
  });
});

describe('request attribution without an adapter', () => {
  it('finds the Express, Fastify, Koa and Hono request in the paused frames', async () => {
    const fixture = runFixture('frameworks.mjs');
    const { contexts } = await fixture.waitFor<{ contexts: Record<string, unknown> }>(
      (line) => line['type'] === 'contexts',
    );
    expect(contexts).toEqual({
      express: { method: 'GET', path: '/users/1' },
      fastify: { method: 'GET', path: '/users/2' },
      koa: { method: 'GET', path: '/users/3' },
      hono: { method: 'GET', path: '/users/4' },
    });
    expect(await fixture.exited).toEqual({ code: 0, signal: null });
  });
});
