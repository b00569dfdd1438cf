// Zero-code attribution after awaits (issue 8, point 1): an app with no loopguard code, run
// under `--import loopguard/register` and under `npx loopguard --`, blocks in a helper two
// awaits below its request listener. node:http must name the method and path, Fastify the
// route pattern (from its own diagnostics channel). Traffic comes from this process; the
// JSON report written at exit says what each block was attributed to.
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanEnv, cliPath, fixture, get, killLeftovers, registerEsm, run, type Running } from './helpers.js';

const node = process.execPath;
const waitReady = fixture('wait-ready.mjs');
const dir = mkdtempSync(join(tmpdir(), 'loopguard-awaits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => killLeftovers());

// Only the async_hooks implementation of AsyncLocalStorage has `_propagate` (request-context.ts).
const FRAME = !('_propagate' in AsyncLocalStorage.prototype);

interface ReportBlock {
  duration: number;
  site: string;
  request?: string;
}

/** Send `paths` one after the other, close the app, and return the blocks of its JSON report. */
async function blocksOf(app: Running, report: string, paths: string[]): Promise<ReportBlock[]> {
  const { port } = await app.nextJson<{ port: number }>();
  for (const path of paths) expect((await get(port, path)).status).toBe(200);
  await get(port, '/close');
  expect(await app.exited).toEqual({ code: 0, signal: null });
  return (JSON.parse(readFileSync(report, 'utf8')) as { blocks: ReportBlock[] }).blocks;
}

function blockIn(blocks: ReportBlock[], site: string): ReportBlock {
  const found = blocks.find((block) => block.site.includes(site) && block.duration >= 200);
  if (found === undefined) throw new Error(`no block in ${site}: ${JSON.stringify(blocks)}`);
  return found;
}

const env = (report: string): NodeJS.ProcessEnv =>
  cleanEnv({ LOOPGUARD_THRESHOLD: '50', LOOPGUARD_REPORT: report, LOOPGUARD_LOG: 'false', LOOPGUARD_SUMMARY: 'false' });

describe('zero-code: a block two awaits below the request listener', () => {
  it('node --import loopguard/register on node:http names the method and path', async () => {
    const report = join(dir, 'register-http.json');
    const app = run(node, ['--import', registerEsm, '--import', waitReady, fixture('awaits/server.mjs')], env(report));
    const block = blockIn(await blocksOf(app, report, ['/orders/7']), 'priceOrder');
    expect(block.request).toBe('GET /orders/7');
  });

  it('npx loopguard -- node on node:http names the method and path', async () => {
    const report = join(dir, 'cli-http.json');
    const args = [cliPath, '--threshold', '50', '--report', report, '--log', 'false', '--no-summary', '--', node, fixture('awaits/server.mjs')];
    const app = run(node, args, cleanEnv());
    const block = blockIn(await blocksOf(app, report, ['/orders/8']), 'priceOrder');
    expect(block.request).toBe('GET /orders/8');
  });

  it('node --import loopguard/register on Fastify names the route pattern', async () => {
    const report = join(dir, 'register-fastify.json');
    const app = run(node, ['--import', registerEsm, '--import', waitReady, fixture('awaits/fastify.mjs')], env(report));
    const block = blockIn(await blocksOf(app, report, ['/orders/9']), 'priceOrder');
    expect(block.request).toBe('GET /orders/:id');
  });

  it('npx loopguard -- node on Fastify names the route pattern', async () => {
    const report = join(dir, 'cli-fastify.json');
    const args = [cliPath, '--threshold', '50', '--report', report, '--log', 'false', '--no-summary', '--', node, fixture('awaits/fastify.mjs')];
    const app = run(node, args, cleanEnv());
    const block = blockIn(await blocksOf(app, report, ['/orders/10']), 'priceOrder');
    expect(block.request).toBe('GET /orders/:id');
  });
});

// Express and Nest on Express hand node:http a sync listener (the app): no request frame, and
// on Node 20/22 no per-request context. Register must find their route tables by itself.
describe('zero-code: Express and Nest on Express name the route pattern two awaits below the handler', () => {
  // Express: also a router mounted at /shop, and a handler that blocks before any await (/sync/:id).
  const apps = [
    { name: 'Express 5 (ESM import)', file: 'awaits/express5.mjs', shop: true },
    { name: 'Express 4 (require)', file: 'awaits/express4.cjs', shop: true },
    { name: 'NestJS on Express', file: 'awaits/nest-express.mjs', shop: false },
  ];
  for (const { name, file, shop } of apps) {
    const paths = shop ? ['/async/7', '/shop/async/8', '/sync/9'] : ['/async/7'];
    const expectRoutes = (blocks: ReportBlock[]): void => {
      const requests = blocks.filter((block) => block.site.includes('priceOrder') && block.duration >= 200).map((block) => block.request);
      expect(requests, JSON.stringify(blocks)).toEqual(shop ? ['GET /async/:id', 'GET /shop/async/:id', 'GET /sync/:id'] : ['GET /async/:id']);
    };

    it(`${name} under node --import loopguard/register`, async () => {
      const report = join(dir, `register-${file.replace(/\W/g, '-')}.json`);
      const app = run(node, ['--import', registerEsm, '--import', waitReady, fixture(file)], env(report));
      expectRoutes(await blocksOf(app, report, paths));
    });

    it(`${name} under npx loopguard -- node`, async () => {
      const report = join(dir, `cli-${file.replace(/\W/g, '-')}.json`);
      const args = [cliPath, '--threshold', '50', '--report', report, '--log', 'false', '--no-summary', '--', node, fixture(file)];
      const app = run(node, args, cleanEnv());
      expectRoutes(await blocksOf(app, report, paths));
    });
  }
});

describe('zero-code: a block in a setImmediate continuation below the listener', () => {
  it.skipIf(!FRAME)(`names the method and path by default${FRAME ? '' : ' (skipped: needs Node ≥ 24 (AsyncContextFrame))'}`, async () => {
    const report = join(dir, 'register-login.json');
    const app = run(node, ['--import', registerEsm, '--import', waitReady, fixture('awaits/server.mjs')], env(report));
    const block = blockIn(await blocksOf(app, report, ['/login/3']), 'stretchHash');
    expect(block.request).toBe('GET /login/3');
  });

  it(`names nothing with --request-context false (${FRAME ? 'on by default here' : 'off by default here anyway'})`, async () => {
    const report = join(dir, 'cli-login-off.json');
    const args = [cliPath, '--threshold', '50', '--report', report, '--log', 'false', '--no-summary', '--request-context', 'false', '--', node, fixture('awaits/server.mjs')];
    const app = run(node, args, cleanEnv());
    const block = blockIn(await blocksOf(app, report, ['/login/4']), 'stretchHash');
    expect(block.request).toBeUndefined();
  });

  it('names the method and path with --request-context true, on any Node', async () => {
    const report = join(dir, 'cli-login-on.json');
    const args = [cliPath, '--threshold', '50', '--report', report, '--log', 'false', '--no-summary', '--request-context', 'true', '--', node, fixture('awaits/server.mjs')];
    const app = run(node, args, cleanEnv());
    const block = blockIn(await blocksOf(app, report, ['/login/5']), 'stretchHash');
    expect(block.request).toBe('GET /login/5');
  });

  it('refuses LOOPGUARD_REQUEST_CONTEXT=maybe, naming the variable', async () => {
    const app = run(node, ['--import', registerEsm, fixture('exit-code.mjs')], cleanEnv({ LOOPGUARD_REQUEST_CONTEXT: 'maybe' }));
    expect(await app.exited).toEqual({ code: 9, signal: null });
    expect(app.stderr).toBe("loopguard: LOOPGUARD_REQUEST_CONTEXT must be 'auto', 'true' or 'false', got \"maybe\"\n");
  });
});

describe("zero-code: the app's own view of its 'request' listeners", () => {
  it('listeners() gives its functions, removeListener() removes them, once() fires once, on http and https', async () => {
    const app = run(node, ['--import', registerEsm, fixture('awaits/listeners.mjs')], cleanEnv({ LOOPGUARD_SUMMARY: 'false' }));
    expect(await app.nextJson()).toEqual({ sameFunction: true, count: 2, onceCalls: 1, left: 0 });
    expect(await app.exited).toEqual({ code: 0, signal: null });
  });
});
