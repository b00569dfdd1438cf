/**
 * loopguard/prometheus on a real Express service: a 150 ms block in GET /users/:id, three calls
 * below the handler after an await, shows in the histogram and the counter by route pattern,
 * beside prom-client's default metrics in the same registry, and no raw path ever appears.
 * The service runs in a child process; requests come from this process, whose loop is free.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, type JsonLineProcess } from '../adapters/fixture-process.js';

interface BlockEventLike {
  duration: number;
  cause: string;
  context?: Record<string, unknown>;
  stack: Array<{ function: string }>;
}

/** The value of the sample whose line starts with `prefix` (a metric name with its labels). */
function sample(exposition: string, prefix: string): number | undefined {
  const line = exposition.split('\n').find((candidate) => candidate.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('prometheusMetrics() on an Express service', () => {
  let server: JsonLineProcess;
  let base: string;

  beforeAll(async () => {
    server = startFixture('../telemetry/prometheus-server.mjs', []);
    base = String((await server.next('ready'))['url']);
    // Warm up: the first request through Express compiles code lazily, a block of its own.
    await (await fetch(`${base}/users/0?block=0`)).text();
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function blockOf(url: string, blockingFunction: string): Promise<BlockEventLike> {
    const response = await fetch(base + url);
    await response.arrayBuffer();
    // Start-up work can block too: skip to the event whose stack names our function.
    for (let i = 0; i < 30; i++) {
      const event = (await server.next('block', 10_000))['event'] as BlockEventLike;
      if (event.stack.some((frame) => frame.function === blockingFunction) && event.duration > 120) return event;
    }
    throw new Error(`no block in ${blockingFunction} reported for ${url}`);
  }

  async function scrape(): Promise<string> {
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    return response.text();
  }

  it('shows a 150 ms block in GET /users/:id by route pattern and method, beside the default metrics', async () => {
    const event = await blockOf('/users/42', 'highlightMarkdown');
    expect(event.context).toMatchObject({ method: 'GET', route: '/users/:id' });
    const exposition = await scrape();
    // The cause label is the event's own: a loaded machine can judge a block otherwise than 'js'.
    const labels = `route="/users/:id",method="GET",cause="${event.cause}"`;
    // The block counts in the first bucket at or above its measured duration, not in the one below.
    const bounds = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
    const index = bounds.findIndex((bound) => bound >= event.duration / 1000);
    expect(index).toBeGreaterThan(1);
    expect(sample(exposition, `loopguard_block_duration_seconds_bucket{le="${bounds[index - 1]}",${labels}}`)).toBe(0);
    expect(sample(exposition, `loopguard_block_duration_seconds_bucket{le="${bounds[index]}",${labels}}`)).toBe(1);
    expect(sample(exposition, `loopguard_block_duration_seconds_bucket{le="+Inf",${labels}}`)).toBe(1);
    expect(sample(exposition, `loopguard_block_duration_seconds_count{${labels}}`)).toBe(1);
    expect(sample(exposition, `loopguard_block_duration_seconds_sum{${labels}}`)).toBeGreaterThan(0.12);
    expect(sample(exposition, `loopguard_blocks_total{${labels}}`)).toBe(1);
    // prom-client's own defaults, registered first on the same registry: no clash.
    expect(exposition).toContain('nodejs_eventloop_lag_seconds');
    expect(exposition).toContain('process_cpu_user_seconds_total');
    const utilization = sample(exposition, 'loopguard_eventloop_utilization ');
    expect(utilization).toBeGreaterThanOrEqual(0);
    expect(utilization).toBeLessThanOrEqual(1);
    expect(sample(exposition, 'loopguard_pool_tasks_total{pool="default",outcome="completed"}')).toBe(1);
    expect(sample(exposition, 'loopguard_pool_threads{pool="default"}')).toBeGreaterThanOrEqual(0);
    expect(exposition).toMatch(/^loopguard_eventloop_delay_seconds\{quantile="0.99"\} /m);
    // The libuv probe (stats().libuv), in seconds: this service's pool is free, far below a second.
    for (const quantile of ['0.5', '0.99', '1']) {
      const wait = sample(exposition, `loopguard_libuv_delay_seconds{quantile="${quantile}"}`);
      expect(wait, quantile).toBeGreaterThanOrEqual(0);
      expect(wait, quantile).toBeLessThan(1);
    }
    expect(exposition).not.toContain('/users/42');
    // Every metric name is declared once (prom-client would throw on a clash; this checks the text too).
    const declared = exposition.split('\n').filter((line) => line.startsWith('# TYPE ')).map((line) => line.split(' ')[2]);
    expect(new Set(declared).size).toBe(declared.length);
  });

  it('labels a block in a request no route matched "(unmatched)", never with its path', async () => {
    const event = await blockOf('/nowhere/secret-token-7?block=150', 'highlightMarkdown');
    const exposition = await scrape();
    expect(sample(exposition, `loopguard_blocks_total{route="(unmatched)",method="GET",cause="${event.cause}"}`)).toBe(1);
    expect(exposition).not.toContain('secret-token-7');
    expect(exposition).not.toContain('/nowhere');
  });

  it('reports the loop delay of the last window: a quiet window after a block no longer shows it', async () => {
    // Scrapes less than a second apart repeat the previous reading: start a fresh window first.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await scrape();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await blockOf('/users/7?block=300', 'highlightMarkdown');
    const first = await scrape();
    // The window of this scrape holds the 300 ms block.
    expect(sample(first, 'loopguard_eventloop_delay_seconds{quantile="1"}')).toBeGreaterThan(0.25);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const second = await scrape();
    expect(sample(second, 'loopguard_eventloop_delay_seconds{quantile="1"}')).toBeLessThan(0.1);
  });
});
