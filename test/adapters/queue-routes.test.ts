// enqueue(fn, { queue }) and jobStatus(queue) in every adapter, on real servers of each
// framework. The queue is a recording stand-in with loopguard Queue's shape (the routes use
// nothing else of it); test/queue/ runs the real queue end to end.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';

interface Recorded {
  fn: unknown;
  args: unknown[];
  options: unknown;
}

function recordingQueue() {
  const jobs = new Map<string, Recorded>();
  let last = 0;
  return {
    jobs,
    async enqueue(fn: unknown, args: unknown[], options?: unknown) {
      const id = `job-${++last}`;
      jobs.set(id, { fn, args, options });
      return { id, state: 'queued' as const };
    },
    async status(id: string) {
      if (!jobs.has(id)) throw Object.assign(new Error(`no job ${id} in this queue`), { code: 'ERR_LOOPGUARD_JOB_NOT_FOUND' });
      return {
        id,
        function: 'renderReport',
        state: 'failed',
        attempts: 2,
        error: Object.assign(new TypeError('the report has no rows'), { code: 'E_EMPTY', rows: 0 }),
        progress: { step: 3 },
        createdAt: new Date('2026-01-02T03:04:05.000Z'),
      };
    },
  };
}

type RecordingQueue = ReturnType<typeof recordingQueue>;

async function renderReport(input: unknown) {
  return input;
}

const jobOptions = ({ query }: { query: Record<string, unknown> }) => ({ priority: query['urgent'] === '1' ? 5 : 0 });

function listening(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

interface Started {
  url: string;
  close(): Promise<void>;
}

const closeServer = (server: Server) => () => new Promise<void>((resolve) => server.close(() => resolve()));

const frameworks: Record<string, (queue: RecordingQueue) => Promise<Started>> = {
  async 'node:http'(queue) {
    const { enqueue, jobStatus } = await import('loopguard/http');
    const post = enqueue(renderReport, { queue, jobOptions });
    const get = jobStatus(queue);
    const server = createServer((req, res) => (req.method === 'POST' ? post(req, res) : get(req, res)));
    return { url: await listening(server), close: closeServer(server) };
  },
  async Express(queue) {
    const { default: express } = await import('express');
    const { enqueue, jobStatus } = await import('loopguard/express');
    const app = express();
    app.use(express.json());
    app.post('/reports', enqueue(renderReport, { queue, jobOptions }));
    app.get('/reports/:id', jobStatus(queue));
    const server = createServer(app);
    return { url: await listening(server), close: closeServer(server) };
  },
  async Fastify(queue) {
    const { default: fastify } = await import('fastify');
    const { enqueue, jobStatus } = await import('loopguard/fastify');
    const app = fastify();
    app.post('/reports', enqueue(renderReport, { queue, jobOptions }));
    app.get('/reports/:id', jobStatus(queue));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url, close: () => app.close() };
  },
  async Koa(queue) {
    const { default: Koa } = await import('koa');
    const { default: Router } = await import('@koa/router');
    const { enqueue, jobStatus } = await import('loopguard/koa');
    const app = new Koa();
    const router = new Router();
    router.post('/reports', enqueue(renderReport, { queue, jobOptions }));
    router.get('/reports/:id', jobStatus(queue));
    app.use(router.routes());
    const server = createServer(app.callback());
    return { url: await listening(server), close: closeServer(server) };
  },
  async Hono(queue) {
    const { Hono } = await import('hono');
    const { serve } = await import('@hono/node-server');
    const { enqueue, jobStatus } = await import('loopguard/hono');
    const app = new Hono();
    app.post('/reports', enqueue(renderReport, { queue, jobOptions }));
    app.get('/reports/:id', jobStatus(queue));
    let started: Server | undefined;
    const url = await new Promise<string>((resolve) => {
      started = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(`http://127.0.0.1:${info.port}`)) as Server;
    });
    return { url, close: closeServer(started!) };
  },
  async NestJS(queue) {
    const { Module, RequestMethod } = await import('@nestjs/common');
    const { NestFactory } = await import('@nestjs/core');
    const { enqueue, jobStatus } = await import('loopguard/nestjs');
    class AppModule {
      configure(consumer: { apply(...middleware: unknown[]): { forRoutes(...routes: unknown[]): unknown } }) {
        consumer.apply(enqueue(renderReport, { queue, jobOptions })).forRoutes({ path: 'reports', method: RequestMethod.POST });
        consumer.apply(jobStatus(queue)).forRoutes({ path: 'reports/:id', method: RequestMethod.GET });
      }
    }
    Module({})(AppModule);
    const app = await NestFactory.create(AppModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
    return { url, close: () => app.close() };
  },
};

describe.each(Object.keys(frameworks))('job-queue routes on %s', (framework) => {
  let server: Started | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('enqueue answers 202 with the id, the state and the status URL, and stores the job for fn(input)', async () => {
    const queue = recordingQueue();
    server = await frameworks[framework]!(queue);
    const response = await fetch(`${server.url}/reports?urgent=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant': 'acme' },
      body: JSON.stringify({ month: '2026-01', rows: [1, 2] }),
    });
    expect(response.status).toBe(202);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({ id: 'job-1', state: 'queued', statusUrl: '/reports/job-1' });
    expect(response.headers.get('location')).toBe('/reports/job-1');
    const job = queue.jobs.get('job-1')!;
    expect(job.fn).toBe(renderReport);
    expect(job.options).toEqual({ priority: 5 });
    expect(job.args).toHaveLength(1);
    expect(job.args[0]).toMatchObject({
      query: { urgent: '1' },
      body: { month: '2026-01', rows: [1, 2] },
      headers: { 'x-tenant': 'acme' },
    });
  });

  it('jobStatus serves the status as JSON, the error with its name, message, code and fields', async () => {
    const queue = recordingQueue();
    server = await frameworks[framework]!(queue);
    await fetch(`${server.url}/reports`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const response = await fetch(`${server.url}/reports/job-1`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      id: 'job-1',
      function: 'renderReport',
      state: 'failed',
      attempts: 2,
      error: { name: 'TypeError', message: 'the report has no rows', code: 'E_EMPTY', rows: 0 },
      progress: { step: 3 },
      createdAt: '2026-01-02T03:04:05.000Z',
    });
  });

  it('jobStatus answers 404 for an id the queue does not hold', async () => {
    server = await frameworks[framework]!(recordingQueue());
    const response = await fetch(`${server.url}/reports/job-404`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: 'no job job-404' });
  });
});

describe('job-queue route options', () => {
  it('are validated up front, naming the option', async () => {
    const { enqueue, jobStatus } = await import('loopguard/express');
    const queue = recordingQueue();
    expect(() => enqueue(renderReport, { queue: {} as never })).toThrow(/queue must be a Queue made by createQueue\(\)/);
    expect(() => enqueue(renderReport, { queue, statusUrl: 'x' as never })).toThrow(/statusUrl must be a function/);
    expect(() => enqueue(renderReport, { queue, colour: 1 } as never)).toThrow(/unknown option `colour`/);
    expect(() => enqueue('renderReport' as never, { queue })).toThrow(/fn must be a function/);
    expect(() => jobStatus(undefined as never)).toThrow(/queue must be a Queue/);
    // Neither marked with a queue nor given one.
    expect(() => enqueue(renderReport)).toThrow(/fn must be a function marked with threaded\(renderReport, \{ queue \}\), or options.queue given/);
  });

  it('jobStatus writes a result\'s BigInt, Map and Set as JSON can hold them', async () => {
    const { jobStatus } = await import('loopguard/http');
    const queue = {
      ...recordingQueue(),
      status: async (id: string) => ({
        id,
        state: 'completed',
        result: { total: 85_050n, totals: new Map([['desk', 74_700n]]), tags: new Set(['net-30']) },
      }),
    };
    const server = createServer(jobStatus(queue));
    const url = await listening(server);
    try {
      const response = await fetch(`${url}/jobs/job-9`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        id: 'job-9',
        state: 'completed',
        result: { total: '85050', totals: { desk: '74700' }, tags: ['net-30'] },
      });
    } finally {
      await closeServer(server)();
    }
  });

  it('statusUrl places the status elsewhere', async () => {
    const { enqueue } = await import('loopguard/http');
    const queue = recordingQueue();
    const server = createServer(enqueue(renderReport, { queue, statusUrl: (id) => `/jobs/${id}` }));
    const url = await listening(server);
    try {
      const response = await fetch(`${url}/reports`, { method: 'POST' });
      expect(await response.json()).toEqual({ id: 'job-1', state: 'queued', statusUrl: '/jobs/job-1' });
    } finally {
      await closeServer(server)();
    }
  });
});
