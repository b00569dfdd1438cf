/**
 * loopguard/otel on a real Express service with the OpenTelemetry SDK's MeterProvider: the
 * runtime metrics in seconds, the block histogram with the route and method, a block inside
 * an active span added to it as an event, and the runtime metrics left to
 * @opentelemetry/instrumentation-runtime-node when it reports them.
 * The SDK (3.x) needs Node >= 22.15: on older Node these tests are skipped, with the reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFixture, type JsonLineProcess } from '../adapters/fixture-process.js';

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const sdkRuns = major > 22 || (major === 22 && minor >= 15);
const skipReason = sdkRuns ? '' : ` (skipped: the OpenTelemetry SDK 3 needs Node >= 22.15, this is ${process.version})`;

interface Collected {
  scope: string;
  name: string;
  unit: string;
  points: Array<{ attributes: Record<string, unknown>; value: unknown }>;
}
interface BlockEventLike {
  duration: number;
  context?: Record<string, unknown>;
  stack: Array<{ function: string }>;
}

async function nextBlockIn(server: JsonLineProcess, blockingFunction: string): Promise<BlockEventLike> {
  // Loading the SDK and compiling it on first use block too, without a stack of ours: skip those.
  const skipped: BlockEventLike[] = [];
  for (let i = 0; i < 30; i++) {
    let event: BlockEventLike;
    try {
      event = (await server.next('block', 10_000))['event'] as BlockEventLike;
    } catch (error) {
      throw new Error(`${(error as Error).message}\nevents skipped: ${JSON.stringify(skipped)}`, { cause: error });
    }
    if (event.stack.some((frame) => frame.function === blockingFunction) && event.duration > 120) return event;
    skipped.push(event);
  }
  throw new Error(`no block in ${blockingFunction} reported; events skipped: ${JSON.stringify(skipped)}`);
}

describe.skipIf(!sdkRuns)(`otelMetrics() with the SDK's MeterProvider${skipReason}`, () => {
  let server: JsonLineProcess;
  let base: string;
  const collect = async (): Promise<Collected[]> => (await fetch(`${base}/collect`)).json() as Promise<Collected[]>;

  beforeAll(async () => {
    server = startFixture('../telemetry/otel-server.mjs', []);
    base = String((await server.next('ready'))['url']);
    await (await fetch(`${base}/users/0?block=0`)).text();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('records a block in GET /users/:id in loopguard.block.duration, in seconds, with the route and method', async () => {
    await (await fetch(`${base}/users/42`)).text();
    const event = await nextBlockIn(server, 'highlightMarkdown');
    const metric = (await collect()).find((candidate) => candidate.name === 'loopguard.block.duration');
    expect(metric?.unit).toBe('s');
    // Other blocks (first-request compilation) may have their own points: find ours by its site.
    const point = metric?.points.find(
      (candidate) => candidate.attributes['http.route'] === '/users/:id' && candidate.attributes['code.function.name'] === 'highlightMarkdown',
    );
    expect(point?.attributes).toMatchObject({
      'http.route': '/users/:id',
      'http.request.method': 'GET',
      'loopguard.block.cause': 'js',
      'code.function.name': 'highlightMarkdown',
    });
    expect(point?.attributes['code.file.path']).toMatch(/profile-service\.mjs$/);
    expect(typeof point?.attributes['code.line.number']).toBe('number');
    const histogram = point?.value as { count: number; sum: number };
    expect(histogram.count).toBe(1);
    expect(histogram.sum).toBeCloseTo(event.duration / 1000, 3);
    expect(JSON.stringify(metric)).not.toContain('/users/42');
  });

  it('reports nodejs.eventloop.delay.* in seconds and nodejs.eventloop.utilization and .time', async () => {
    const collected = await collect();
    const byName = new Map(collected.filter((metric) => metric.scope === 'loopguard').map((metric) => [metric.name, metric]));
    for (const field of ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99']) {
      expect(byName.get(`nodejs.eventloop.delay.${field}`)?.unit, field).toBe('s');
    }
    const p99 = byName.get('nodejs.eventloop.delay.p99')!.points[0]!.value as number;
    // Seconds, not ms or ns: an idle test service's p99 is far below a second.
    expect(p99).toBeGreaterThanOrEqual(0);
    expect(p99).toBeLessThan(1);
    const utilization = byName.get('nodejs.eventloop.utilization')!.points[0]!.value as number;
    expect(utilization).toBeGreaterThan(0);
    expect(utilization).toBeLessThanOrEqual(1);
    const states = byName.get('nodejs.eventloop.time')!.points.map((point) => point.attributes['nodejs.eventloop.state']);
    expect(states.sort()).toEqual(['active', 'idle']);
    // The libuv probe (stats().libuv): one gauge per figure, in seconds, far below one on a free pool.
    for (const field of ['p50', 'p99', 'max']) {
      const gauge = byName.get(`loopguard.libuv.delay.${field}`);
      expect(gauge?.unit, field).toBe('s');
      const wait = gauge!.points[0]!.value as number;
      expect(wait, field).toBeGreaterThanOrEqual(0);
      expect(wait, field).toBeLessThan(1);
    }
  });

  it('adds a block inside an active span to that span as an event, and puts its ids on the block event', async () => {
    const finished = fetch(`${base}/job`).then((response) => response.json());
    const event = await nextBlockIn(server, 'chunkOfReport');
    await finished;
    const spans = (await (await fetch(`${base}/spans`)).json()) as Array<{
      name: string;
      traceId: string;
      spanId: string;
      events: Array<{ name: string; attributes: Record<string, unknown> }>;
    }>;
    const span = spans.find((candidate) => candidate.name === 'nightly-report');
    expect(event.context).toMatchObject({ traceId: span?.traceId, spanId: span?.spanId });
    const blockEvent = span?.events.find((candidate) => candidate.name === 'loopguard.block');
    expect(blockEvent?.attributes).toMatchObject({ 'code.function.name': 'chunkOfReport', 'loopguard.block.cause': 'js' });
    expect(blockEvent?.attributes['loopguard.block.duration']).toBeGreaterThan(0.12);
  });

  it('adds a block to a span that ended before the block was reported, keeping the span\'s own end time', async () => {
    await (await fetch(`${base}/traced/9`)).text();
    const event = await nextBlockIn(server, 'highlightMarkdown');
    // Its end() was deferred until the block event: by now the span has been exported.
    const spans = (await (await fetch(`${base}/spans`)).json()) as Array<{
      name: string;
      spanId: string;
      durationMs: number;
      events: Array<{ name: string; attributes: Record<string, unknown> }>;
    }>;
    const span = spans.find((candidate) => candidate.name === 'GET /traced/:id');
    expect(event.context).toMatchObject({ spanId: span?.spanId });
    expect(span?.events.map((candidate) => candidate.name)).toEqual(['loopguard.block']);
    expect(span?.events[0]?.attributes['code.function.name']).toBe('highlightMarkdown');
    // The span lasts as long as the block, not until the event came: wide margins on a busy host.
    expect(span?.durationMs).toBeGreaterThan(event.duration - 20);
    expect(span?.durationMs).toBeLessThan(event.duration + 100);
  });
});

describe.skipIf(!sdkRuns)(`otelMetrics() beside @opentelemetry/instrumentation-runtime-node${skipReason}`, () => {
  let server: JsonLineProcess;
  let base: string;

  beforeAll(async () => {
    server = startFixture('../telemetry/otel-server.mjs', ['runtime-node']);
    base = String((await server.next('ready'))['url']);
    await (await fetch(`${base}/users/0?block=0`)).text();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('leaves the nodejs.eventloop.* metrics to the instrumentation and still records blocks', async () => {
    await (await fetch(`${base}/users/42`)).text();
    await nextBlockIn(server, 'highlightMarkdown');
    const collected = (await (await fetch(`${base}/collect`)).json()) as Collected[];
    const reporting = (scope: string): string[] =>
      collected
        .filter((metric) => metric.scope === scope && metric.name.startsWith('nodejs.eventloop.') && metric.points.length > 0)
        .map((metric) => metric.name);
    // The instrumentation reports them (its delay gauges only once it has 5 samples)...
    expect(reporting('@opentelemetry/instrumentation-runtime-node')).toContain('nodejs.eventloop.utilization');
    // ...and loopguard's meter reports none of them.
    expect(reporting('loopguard')).toEqual([]);
    expect(collected.some((metric) => metric.scope === 'loopguard' && metric.name === 'loopguard.block.duration')).toBe(true);
  });
});
