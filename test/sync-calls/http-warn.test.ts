import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BlockEvent } from '../../src/types.js';
import { forkFixture, nextMessage } from './run-fixture.js';

interface Result {
  type: 'result';
  events: BlockEvent[];
  emitPatched: boolean;
  emitAfter: boolean;
  restored: boolean;
}

// The server runs in a forked child under syncCalls: 'warn'; requests come from this process.
describe("syncCalls: 'warn' in a real node:http server", () => {
  let result: Result;
  let serverFile: string;
  let exitCode: number | null;
  beforeAll(async () => {
    const child = forkFixture('http-server.mjs');
    try {
      const ready = await nextMessage<{ type: 'ready'; port: number; url: string }>(child, 'ready');
      serverFile = fileURLToPath(ready.url);
      const get = async (path: string) => {
        const response = await fetch(`http://127.0.0.1:${ready.port}${path}`);
        expect(await response.text()).toBe('ok');
      };
      await get('/users/42?token=secret');
      await get('/users/43?token=secret');
      await get('/later?x=1');
      await get('/lazy');
      const finished = nextMessage<Result>(child, 'result');
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.send('finish');
      result = await finished;
      exitCode = await exited;
    } finally {
      if (child.exitCode === null) child.kill();
    }
  });

  const readEvents = () => result.events.filter((event) => event.call === 'fs.readFileSync');

  it('reports readFileSync, a named ESM import, inside a request once: start-up and the repeat give none', () => {
    expect(readEvents()).toHaveLength(1);
  });

  it('names the API and the request path without its query', () => {
    const [event] = readEvents();
    expect(event).toMatchObject({ kind: 'sync-call', call: 'fs.readFileSync', cause: 'native', threshold: 50 });
    expect(event?.context).toMatchObject({ method: 'GET', path: '/users/42' });
    expect(JSON.stringify(event?.context)).not.toContain('secret');
  });

  it('includes the route an adapter tagged on the request before the call', () => {
    expect(readEvents()[0]?.context?.route).toBe('/users/:id');
  });

  it("starts the stack at the call in the caller's file", () => {
    const [top] = readEvents()[0]?.stack ?? [];
    expect(top).toMatchObject({ function: 'loadTemplate', file: serverFile });
    expect(top?.line).toBeGreaterThan(0);
  });

  it('measures how long the call took', () => {
    const [event] = readEvents();
    expect(event?.duration).toBeGreaterThanOrEqual(0);
    expect(event?.duration).toBeLessThan(5_000);
    expect(event?.startedAt).toBeGreaterThan(Date.now() - 60_000);
  });

  it('keeps the request context across an await', () => {
    const later = result.events.filter((event) => event.call === 'fs.existsSync');
    expect(later).toHaveLength(1);
    expect(later[0]?.context).toMatchObject({ method: 'GET', path: '/later' });
  });

  it("leaves out Node's loader reading a lazily required module", () => {
    expect(result.events.map((event) => event.call).sort()).toEqual(['fs.existsSync', 'fs.readFileSync']);
  });

  it('removes the http.Server and https.Server emit patches on uninstall and restores readFileSync', () => {
    expect(result.emitPatched).toBe(true);
    expect(result.emitAfter).toBe(false);
    expect(result.restored).toBe(true);
  });

  it('leaves nothing that keeps the process alive after uninstall', () => {
    expect(exitCode).toBe(0);
  });
});
