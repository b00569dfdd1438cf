// How each variant is switched on inside a fixture process. Kept in one place so the HTTP
// service, the idle RSS fixture and the capture fixture mean the same thing by a name.
import { createHook } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
// BENCH_LOOPGUARD_MODULE points the loopguard variants at another build (an absolute path), e.g.
// to compare two versions of the monitor on one machine in one sitting.
const distUrl = process.env.BENCH_LOOPGUARD_MODULE
  ? pathToFileURL(process.env.BENCH_LOOPGUARD_MODULE)
  : new URL('../../dist/index.js', import.meta.url);

/** Variant names in the order the tables list them; `bare` is the baseline. */
export const VARIANTS = ['bare', 'loopguard', 'loopguard+adapter', 'loopguard+als', 'loopguard+shed', 'loopguard+ctx', 'zero-code', 'async_hooks', 'blocked-at'];

/** What `npm run bench` measures unless BENCH_VARIANTS says otherwise (issue 8, point 8). */
export const DEFAULT_VARIANTS = ['bare', 'loopguard', 'loopguard+adapter', 'loopguard+als', 'blocked-at'];

export const VARIANT_NOTES = {
  bare: 'nothing installed',
  loopguard: 'startMonitor() with its defaults (stderr captured; lines counted)',
  'loopguard+adapter': "startMonitor() + the service's adapter, registered before the routes: loopguard/express's and loopguard/koa's and loopguard/hono's middleware, loopguard/fastify's plugin, LoopguardModule.forRoot() (loopguard/nestjs), loopguard/http's wrap() (a sync listener: no route frame, no tag)",
  'loopguard+als': 'loopguard+adapter and one AsyncLocalStorage.run({ method, path }, …) per request, entered first (middleware, onRequest hook, or around the listener)',
  'loopguard+shed': "startMonitor() + the service's shed({ maxDelay: 200, maxUtilization: 0.99, window: 5000, health: '/health' }) (loopguard/http's guard or loopguard/fastify's plugin), never tripping",
  'loopguard+ctx': 'startMonitor() + withContext({ method, path }) per request (AsyncLocalStorage)',
  'zero-code': "loopguard/register imported before the server listens (no adapter): the 'request' listener wrapper, and for Express the route wrapping it gives an app listener; summary off",
  async_hooks: 'an empty async_hooks.createHook({ init, before, after, destroy }).enable()',
  'blocked-at': "blocked-at's documented usage, blocked(cb, { threshold: 100 })",
};

/** The loopguard build under test (dist/, or BENCH_LOOPGUARD_MODULE). */
export function loadLoopguard() {
  return import(distUrl.href);
}

/** An adapter entry of the same build: `loadAdapter('fastify')` → dist/fastify.js. */
export function loadAdapter(name) {
  return import(new URL(`./${name}.js`, distUrl).href);
}

/** Thrown when loopguard's startMonitor is still the stub, so the driver can mark the variant skipped. */
export class VariantUnavailable extends Error {}

/**
 * Install `variant` in this process. Returns `{ blocks(), wrap(handlerRunner), monitor }`:
 * `blocks()` counts the slow-loop reports the tool made (so a table can show that a tool
 * reported stalls caused by host contention); `withRequest(meta, fn)`, set only by variants that
 * want a per-request context, runs fn in it (left undefined otherwise, so the services add no
 * wrapper, hook or closure that the bare baseline would pay for).
 */
export async function installVariant(variant, monitorOptions = {}) {
  let reports = 0;
  const state = { blocks: () => reports, withRequest: undefined, monitor: undefined };
  switch (variant) {
    case 'bare':
      return state;
    case 'async_hooks':
      createHook({ init() {}, before() {}, after() {}, destroy() {} }).enable();
      return state;
    case 'blocked-at': {
      const blocked = require('blocked-at');
      blocked(() => { reports += 1; }, { threshold: 100 });
      return state;
    }
    case 'zero-code': {
      // As `--import loopguard/register` would, but after the app is built: the server's
      // 'request' listener is added at listen(), after this, so it is wrapped all the same.
      process.env.LOOPGUARD_SUMMARY = 'false';
      await import(new URL('./register.js', distUrl).href);
      const monitor = globalThis[Symbol.for('loopguard.v1.monitor')];
      if (monitor === undefined) throw new VariantUnavailable('loopguard/register started no monitor');
      monitor.on('block', () => { reports += 1; });
      state.monitor = monitor;
      return state;
    }
    case 'loopguard':
    case 'loopguard+adapter':
    case 'loopguard+als':
    case 'loopguard+shed':
    case 'loopguard+ctx': {
      const loopguard = await loadLoopguard();
      let monitor;
      try {
        monitor = loopguard.startMonitor(monitorOptions);
      } catch (error) {
        if (/not implemented/i.test(String(error?.message))) {
          throw new VariantUnavailable(`startMonitor is not implemented in dist/ (${error.message})`);
        }
        throw error;
      }
      monitor.on('block', () => { reports += 1; });
      state.monitor = monitor;
      if (variant === 'loopguard+ctx') {
        state.withRequest = (meta, fn) => loopguard.withContext(meta, fn);
      }
      return state;
    }
    default:
      throw new Error(`unknown variant ${JSON.stringify(variant)}; known: ${VARIANTS.join(', ')}`);
  }
}
