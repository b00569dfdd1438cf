/**
 * prometheusMetrics() in this process, fed by a stand-in monitor: option validation, the
 * bounds on every label, unregister(), and that it keeps no process alive.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { describe, expect, it, vi } from 'vitest';
import { prometheusMetrics } from 'loopguard/prometheus';
import { createPool, startMonitor, type BlockEvent, type Monitor } from 'loopguard';
import { standInQueue } from '../helpers/stand-in-queue.js';

type Listener = (event: BlockEvent) => void;

/** Just what the exporter uses of a monitor: on/off('block'). */
function standInMonitor(): { monitor: Monitor; listeners: Set<Listener>; emit(event: Partial<BlockEvent>): void } {
  const listeners = new Set<Listener>();
  const monitor = {
    on: (_: 'block', listener: Listener) => (listeners.add(listener), monitor),
    off: (_: 'block', listener: Listener) => (listeners.delete(listener), monitor),
  } as unknown as Monitor;
  const emit = (event: Partial<BlockEvent>): void => {
    const full = { kind: 'block', duration: 200, threshold: 100, startedAt: Date.now(), stack: [], cause: 'js', ...event };
    for (const listener of listeners) listener(full as BlockEvent);
  };
  return { monitor, listeners, emit };
}

describe('prometheusMetrics() options', () => {
  const monitor = standInMonitor().monitor;
  const cases: Array<[string, unknown, RegExp, 'TypeError' | 'RangeError']> = [
    ['options', 'fast', /^options must be an object, got `"fast"` \(string\)/, 'TypeError'],
    ['an unknown option', { regsitry: new Registry() }, /unknown option `regsitry`/, 'TypeError'],
    ['registry', { registry: {} }, /^registry must be a prom-client Registry, got `\[object Object\]`/, 'TypeError'],
    ['prefix (type)', { prefix: 7 }, /^prefix must be a string, got `7` \(number\)/, 'TypeError'],
    ['prefix (range)', { prefix: 'my-app_' }, /^prefix must be empty or a valid start of a Prometheus metric name.*got `"my-app_"`/, 'RangeError'],
    ['buckets (type)', { buckets: 0.1 }, /^buckets must be an array of numbers \(seconds\), got `0.1` \(number\)/, 'TypeError'],
    ['buckets (empty)', { buckets: [] }, /^buckets must hold at least one bound/, 'RangeError'],
    ['buckets (element)', { buckets: [0.1, '1'] }, /^buckets\[1\] must be a number, got `"1"` \(string\)/, 'TypeError'],
    ['buckets (negative)', { buckets: [-1] }, /^buckets\[0\] must be a finite number > 0/, 'RangeError'],
    ['buckets (order)', { buckets: [1, 0.5] }, /^buckets must be in increasing order, got `0.5` \(number\) at buckets\[1\]/, 'RangeError'],
    ['monitor', { monitor: 'yes' }, /^monitor must be a Monitor from startMonitor\(\), got `"yes"`/, 'TypeError'],
  ];
  for (const [what, options, message, kind] of cases) {
    it(`refuses a bad ${what} with a coded ${kind} naming it`, () => {
      const registry = new Registry();
      const given = typeof options === 'object' && options !== null ? { registry, monitor, ...options } : options;
      let thrown: unknown;
      try {
        prometheusMetrics(given as never);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(kind === 'TypeError' ? TypeError : RangeError);
      expect(thrown).toMatchObject({ code: 'ERR_LOOPGUARD_INVALID_OPTION' });
      expect((thrown as Error).message).toMatch(message);
      // Nothing half-registered.
      expect(registry.getMetricsAsArray()).toEqual([]);
    });
  }

  it('refuses a second registration on the same registry, naming the metric', () => {
    const registry = new Registry();
    const first = prometheusMetrics({ registry, monitor });
    expect(() => prometheusMetrics({ registry, monitor })).toThrow(/registry already holds loopguard_blocks_total/);
    first.unregister();
    expect(() => prometheusMetrics({ registry, monitor }).unregister()).not.toThrow();
  });

  it('prepends the prefix to every name', () => {
    const registry = new Registry();
    const handle = prometheusMetrics({ registry, monitor, prefix: 'shop_' });
    expect(handle.names).toContain('shop_loopguard_blocks_total');
    expect(handle.names.every((name) => name.startsWith('shop_loopguard_'))).toBe(true);
    handle.unregister();
  });
});

describe('prometheusMetrics() labels', () => {
  it('keeps at most 100 routes and counts the rest as "(other)"', async () => {
    const { monitor, emit } = standInMonitor();
    const registry = new Registry();
    const handle = prometheusMetrics({ registry, monitor });
    for (let i = 0; i < 150; i++) emit({ context: { method: 'GET', route: `/r${i}/:id`, path: `/r${i}/${i}` } });
    const exposition = await registry.metrics();
    const routes = new Set([...exposition.matchAll(/^loopguard_blocks_total\{route="([^"]*)"/gm)].map((match) => match[1]));
    expect(routes.size).toBe(101);
    expect(routes).toContain('(other)');
    expect(exposition).toMatch(/^loopguard_blocks_total\{route="\(other\)",method="GET",cause="js"\} 50$/m);
    handle.unregister();
  });

  it("labels a stopped process 'host' and a parked main thread 'wait'", async () => {
    const { monitor, emit } = standInMonitor();
    const registry = new Registry();
    const handle = prometheusMetrics({ registry, monitor });
    emit({ cause: 'host' });
    emit({ cause: 'wait', call: 'child_process.execSync' });
    const exposition = await registry.metrics();
    expect(exposition).toMatch(/^loopguard_blocks_total\{route="\(none\)",method="\(none\)",cause="host"\} 1$/m);
    expect(exposition).toMatch(/^loopguard_blocks_total\{route="\(none\)",method="\(none\)",cause="wait"\} 1$/m);
    handle.unregister();
  });

  it('bounds methods and causes to known values, and never uses a path or a name as a route', async () => {
    const { monitor, emit } = standInMonitor();
    const registry = new Registry();
    const handle = prometheusMetrics({ registry, monitor });
    emit({ context: { method: 'BREW', path: '/coffee/123' }, cause: 'made-up' as never });
    emit({ context: { name: 'nightly /reports/2026-12-01' } });
    emit({});
    const exposition = await registry.metrics();
    expect(exposition).toMatch(/^loopguard_blocks_total\{route="\(unmatched\)",method="\(other\)",cause="unknown"\} 1$/m);
    expect(exposition).toMatch(/^loopguard_blocks_total\{route="\(none\)",method="\(none\)",cause="js"\} 2$/m);
    expect(exposition).not.toContain('/coffee');
    expect(exposition).not.toContain('/reports');
    handle.unregister();
  });

  it('counts sync calls by API and route, with the API names bounded too', async () => {
    const { monitor, emit } = standInMonitor();
    const registry = new Registry();
    const handle = prometheusMetrics({ registry, monitor });
    emit({ kind: 'sync-call', call: 'fs.readFileSync', context: { method: 'GET', route: '/files/:name', path: '/files/a' } });
    for (let i = 0; i < 120; i++) emit({ kind: 'sync-call', call: `made.up${i}Sync` });
    const exposition = await registry.metrics();
    expect(exposition).toMatch(/^loopguard_sync_calls_total\{call="fs.readFileSync",route="\/files\/:name"\} 1$/m);
    expect(exposition).toMatch(/^loopguard_sync_calls_total\{call="\(other\)",route="\(none\)"\} 21$/m);
    // Sync-call reports are not blocks.
    expect(exposition).not.toMatch(/^loopguard_blocks_total\{/m);
    handle.unregister();
  });
});

describe('prometheusMetrics() pools', () => {
  it('lists a pool by its name while it is open, with its finished tasks, and drops it once closed', async () => {
    const registry = new Registry();
    const handle = prometheusMetrics({ registry, monitor: standInMonitor().monitor });
    const pool = createPool({ name: 'thumbnails', maxThreads: 1 });
    await Promise.all([1, 2, 3].map((n) => pool.run((x: number) => x * 2, [n])));
    await expect(pool.run(() => { throw new Error('bad image'); })).rejects.toThrow('bad image');
    const open = await registry.metrics();
    expect(open).toMatch(/^loopguard_pool_tasks_total\{pool="thumbnails",outcome="completed"\} 3$/m);
    expect(open).toMatch(/^loopguard_pool_tasks_total\{pool="thumbnails",outcome="failed"\} 1$/m);
    expect(open).toMatch(/^loopguard_pool_threads\{pool="thumbnails"\} 1$/m);
    expect(open).toMatch(/^loopguard_pool_run_seconds\{pool="thumbnails",quantile="0.99"\} /m);
    await pool.close();
    const closed = await registry.metrics();
    expect(closed).not.toMatch(/^loopguard_pool_threads\{pool="thumbnails"\}/m);
    handle.unregister();
  });
});

describe('prometheusMetrics() job queues', () => {
  it('counts the jobs each queue saw finish, by function and outcome, adding only what finished since the last scrape', async () => {
    const registry = new Registry();
    const handle = prometheusMetrics({ registry, monitor: standInMonitor().monitor });
    const reports = standInQueue('reports');
    try {
      reports.set('renderReport', { completed: 5, failed: 1 });
      const first = await registry.metrics();
      expect(first).toMatch(/^loopguard_queue_jobs_total\{queue="reports",function="renderReport",outcome="completed"\} 5$/m);
      expect(first).toMatch(/^loopguard_queue_jobs_total\{queue="reports",function="renderReport",outcome="failed"\} 1$/m);
      reports.set('renderReport', { completed: 7, failed: 1 });
      reports.set('sendDigest', { completed: 1, failed: 0 });
      const second = await registry.metrics();
      expect(second).toMatch(/^loopguard_queue_jobs_total\{queue="reports",function="renderReport",outcome="completed"\} 7$/m);
      expect(second).toMatch(/^loopguard_queue_jobs_total\{queue="reports",function="sendDigest",outcome="completed"\} 1$/m);
    } finally {
      reports.close();
      handle.unregister();
    }
  });

  it('names two queues of one name apart and bounds the function label', async () => {
    const registry = new Registry();
    const handle = prometheusMetrics({ registry, monitor: standInMonitor().monitor });
    const first = standInQueue('mail');
    const second = standInQueue('mail');
    try {
      first.set('send', { completed: 1, failed: 0 });
      second.set('send', { completed: 2, failed: 0 });
      for (let i = 0; i < 150; i++) second.set(`generated${i}`, { completed: 1, failed: 0 });
      const text = await registry.metrics();
      expect(text).toMatch(/^loopguard_queue_jobs_total\{queue="mail",function="send",outcome="completed"\} 1$/m);
      expect(text).toMatch(/^loopguard_queue_jobs_total\{queue="mail#2",function="send",outcome="completed"\} 2$/m);
      // 100 functions per exporter, the rest summed as (other).
      const functions = new Set([...text.matchAll(/^loopguard_queue_jobs_total\{[^}]*function="([^"]*)"/gm)].map((match) => match[1]));
      expect(functions.size).toBe(101);
      expect(text).toMatch(/^loopguard_queue_jobs_total\{queue="mail#2",function="\(other\)",outcome="completed"\} 51$/m);
    } finally {
      first.close();
      second.close();
      handle.unregister();
    }
  });
});

describe('prometheusMetrics() scrape', () => {
  it("reads a real monitor's libuv probe through libuvStats(), not the whole of stats() (its since-start delay figures cost a scrape ~0.2 ms)", async () => {
    const monitor = startMonitor({ log: false, hangTimeout: 0 });
    try {
      const stats = vi.spyOn(monitor, 'stats');
      const registry = new Registry();
      const handle = prometheusMetrics({ registry, monitor });
      const exposition = await registry.metrics();
      expect(exposition).toMatch(/^loopguard_libuv_delay_seconds\{quantile="1"\} \d/m);
      expect(stats).not.toHaveBeenCalled();
      handle.unregister();
    } finally {
      await monitor.stop();
    }
  });
});

describe('prometheusMetrics() scrape, libuv: false', () => {
  it('gives no libuv samples for a real monitor without the probe (libuvStats() is undefined there)', async () => {
    const monitor = startMonitor({ log: false, hangTimeout: 0, libuv: false });
    try {
      const registry = new Registry();
      const handle = prometheusMetrics({ registry, monitor });
      const exposition = await registry.metrics();
      expect(exposition).toContain('# TYPE loopguard_libuv_delay_seconds gauge');
      expect(exposition).not.toMatch(/^loopguard_libuv_delay_seconds\{/m);
      handle.unregister();
    } finally {
      await monitor.stop();
    }
  });
});

describe('prometheusMetrics() lifecycle', () => {
  it('registers beside collectDefaultMetrics() and unregister() removes only its own metrics', async () => {
    const { monitor, listeners } = standInMonitor();
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const before = registry.getMetricsAsArray().length;
    const handle = prometheusMetrics({ registry, monitor });
    expect(listeners.size).toBe(1);
    const text = await registry.metrics();
    expect(text).toContain('loopguard_eventloop_utilization');
    expect(text).toContain('nodejs_eventloop_lag_p99_seconds');
    handle.unregister();
    expect(listeners.size).toBe(0);
    expect(registry.getMetricsAsArray().length).toBe(before);
    expect(await registry.metrics()).not.toContain('loopguard_');
  });

  it('keeps no process alive: a script that registers and scrapes exits on its own', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const script = `
      const client = require('prom-client');
      const { prometheusMetrics } = require('loopguard/prometheus');
      const registry = new client.Registry();
      prometheusMetrics({ registry });
      registry.metrics().then((text) => console.log(text.includes('loopguard_blocks_total')));`;
    const output = execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 20_000 });
    expect(output.trim()).toBe('true');
  });
});
