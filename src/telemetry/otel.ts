/**
 * loopguard/otel: the semantic-convention runtime metrics (`nodejs.eventloop.*`) over the last
 * window, and `loopguard.block.duration` with the request and the blocking site (API §8), on
 * an OpenTelemetry MeterProvider. A block inside an active span is added to that span as an
 * event and carries its ids. @opentelemetry/api is an optional peer, loaded by this entry only.
 */
import {
  isSpanContextValid,
  metrics as metricsApi,
  trace,
  type Attributes,
  type BatchObservableResult,
  type MeterProvider,
  type Observable,
  type Span,
  type TimeInput,
} from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';
import { clearTimeout, setTimeout } from 'node:timers';
import { InvalidOptionTypeError } from '../errors.js';
import { getGlobal, setGlobal } from '../shared/globals.js';
import { checkBoolean, checkOneOf, checkOptionsObject, describeValue } from '../shared/validate.js';
import type { BlockEvent, Monitor, StackFrame } from '../types.js';
import { BoundedLabel, MAX_ROUTES, MAX_SITES, OTHER, blockLabels } from './labels.js';
import { checkMonitor, onBlocks, readLibuv } from './monitor-source.js';
import { observePools, observeQueues } from './otel-work.js';
import { LoopWindow } from './window.js';

export interface OtelMetricsOptions {
  /** The MeterProvider to create instruments on. @default `metrics.getMeterProvider()` of @opentelemetry/api (the global one) */
  meterProvider?: MeterProvider;
  /**
   * Report `nodejs.eventloop.delay.*`, `.utilization` and `.time`. `'auto'` leaves them out
   * while @opentelemetry/instrumentation-runtime-node reports them: it looks, at each
   * collection, for that instrumentation's meter on the provider (and on the global one) —
   * the SDK's MeterProvider is recognised; with another implementation, pass `true`/`false`.
   * @default 'auto'
   */
  runtimeMetrics?: 'auto' | boolean;
  /** Add each block inside an active span to that span as a `loopguard.block` event, and put its ids on the block event. @default true */
  spans?: boolean;
  /** The monitor whose blocks are recorded. @default the running monitor, else one started with defaults */
  monitor?: Monitor;
}

export interface OtelMetrics {
  /** Stop listening to the monitor and stop observing (instruments cannot be removed from a Meter). */
  unregister(): void;
}

const KNOWN = ['meterProvider', 'runtimeMetrics', 'spans', 'monitor'] as const;
const RUNTIME_INSTRUMENTATION = '@opentelemetry/instrumentation-runtime-node';
const DELAY_FIELDS = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'] as const;
const LIBUV_FIELDS = ['p50', 'p99', 'max'] as const;
/** Spans remembered while a block may still be reported for them (by span id). */
const MAX_SPANS = 256;
/** ms a span's end() waits at most for the event of a block seen inside it. */
const MAX_END_DELAY_MS = 1000;
/** Seconds: blocks start at the monitor's threshold (100 ms by default). */
const BLOCK_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function otelMetrics(options?: OtelMetricsOptions): OtelMetrics {
  const given = checkOptionsObject('options', options, KNOWN);
  const provider = checkMeterProvider(given['meterProvider']);
  const runtimeMetrics =
    given['runtimeMetrics'] === undefined ? 'auto' : checkOneOf('runtimeMetrics', given['runtimeMetrics'], ['auto', true, false] as const);
  const spans = given['spans'] === undefined ? true : checkBoolean('spans', given['spans']);
  const monitor = checkMonitor(given['monitor']);

  const meter = provider.getMeter('loopguard');
  const routes = new BoundedLabel(MAX_ROUTES);
  const sites = new BoundedLabel(MAX_SITES);
  // Only the runtime metrics need a window (and its histogram's timer).
  const window = runtimeMetrics === false ? undefined : new LoopWindow(monitor);
  const blockDuration = meter.createHistogram('loopguard.block.duration', {
    description: 'Duration of each event-loop block the monitor caught',
    unit: 's',
    advice: { explicitBucketBoundaries: BLOCK_BUCKETS },
  });

  let observing: (() => void) | undefined;
  if (window !== undefined) {
    const delayGauges = DELAY_FIELDS.map((field) =>
      meter.createObservableGauge(`nodejs.eventloop.delay.${field}`, {
        description: `Event loop ${field} delay over the time since the previous collection`,
        unit: 's',
      }),
    );
    const utilization = meter.createObservableGauge('nodejs.eventloop.utilization', {
      description: 'Event loop utilization over the time since the previous collection',
      unit: '1',
    });
    const time = meter.createObservableCounter('nodejs.eventloop.time', {
      description: 'Cumulative duration of time the event loop has been in each state',
      unit: 's',
    });
    const observables: Observable[] = [...delayGauges, utilization, time];
    const callback = (result: BatchObservableResult): void => {
      if (runtimeMetrics === 'auto' && runtimeInstrumentationReports(provider)) return;
      const reading = window.read();
      DELAY_FIELDS.forEach((field, index) => result.observe(delayGauges[index]!, reading.delay[field] / 1000));
      result.observe(utilization, reading.utilization);
      const elu = performance.eventLoopUtilization();
      result.observe(time, elu.active / 1000, { 'nodejs.eventloop.state': 'active' });
      result.observe(time, elu.idle / 1000, { 'nodejs.eventloop.state': 'idle' });
    };
    meter.addBatchObservableCallback(callback, observables);
    observing = () => meter.removeBatchObservableCallback(callback, observables);
  }

  // loopguard's own, not a runtime metric: reported whatever runtimeMetrics says. One gauge per
  // figure, named like nodejs.eventloop.delay.*, rather than one gauge with a quantile attribute.
  const libuvGauges = LIBUV_FIELDS.map((field) =>
    meter.createObservableGauge(`loopguard.libuv.delay.${field}`, {
      description: `${field} of how long a tiny libuv thread-pool work item waited for a thread (UV_THREADPOOL_SIZE), over the last minute`,
      unit: 's',
    }),
  );
  const libuvCallback = (result: BatchObservableResult): void => {
    // Nothing with the monitor's libuv: false: a 0 would claim a free pool.
    const libuv = readLibuv(monitor);
    if (libuv === undefined) return;
    LIBUV_FIELDS.forEach((field, index) => result.observe(libuvGauges[index]!, libuv.delay[field] / 1000));
  };
  meter.addBatchObservableCallback(libuvCallback, libuvGauges);

  const stopPools = observePools(meter);
  const stopQueues = observeQueues(meter);

  const spanBook = spans ? new SpanBook() : undefined;
  if (spanBook !== undefined) setGlobal('readActiveSpan', spanBook.reader);

  const stopListening = onBlocks(monitor, (event: BlockEvent) => {
    if (event.kind === 'sync-call') return;
    window?.recordBlock(event.duration);
    const attributes = blockAttributes(event, routes, sites);
    blockDuration.record(event.duration / 1000, attributes);
    spanBook?.addBlock(event, attributes);
  });

  let registered = true;
  return {
    unregister() {
      if (!registered) return;
      registered = false;
      stopListening();
      observing?.();
      meter.removeBatchObservableCallback(libuvCallback, libuvGauges);
      stopPools();
      stopQueues();
      window?.stop();
      if (spanBook !== undefined && getGlobal('readActiveSpan') === spanBook.reader) setGlobal('readActiveSpan', undefined);
    },
  };
}

/** The attributes of `loopguard.block.duration`: route pattern and method (bounded), the blocking site, the cause. */
function blockAttributes(event: BlockEvent, routes: BoundedLabel, sites: BoundedLabel): Attributes {
  const labels = blockLabels(event, routes);
  const attributes: Attributes = {
    'http.route': labels.route,
    'http.request.method': labels.method,
    'loopguard.block.cause': labels.cause,
  };
  // The innermost frame of the app's own code (not node:, not node_modules): a site is code,
  // not client input, and the set of sites is the set of blocking functions, small in any app.
  // Bounded too (a site per eval'd or generated function would not be): beyond it, no code.*.
  const frame = event.stack.find(isAppFrame) ?? event.stack[0];
  if (frame !== undefined && sites.value(`${frame.function}\0${frame.file}\0${frame.line}`) !== OTHER) {
    attributes['code.function.name'] = frame.function;
    attributes['code.file.path'] = frame.file;
    attributes['code.line.number'] = frame.line;
  }
  return attributes;
}

function isAppFrame(frame: StackFrame): boolean {
  return frame.file.includes('/') && !frame.file.startsWith('node:') && !frame.file.includes('/node_modules/');
}

/**
 * Spans seen by the watchdog's capture while the main thread blocked, by span id: the block
 * event arrives after the block ended, by which time `trace.getActiveSpan()` is another's.
 * Weakly held and bounded: a span that ended and was collected is simply not found.
 *
 * A request's span often ends before its block is reported (the HTTP instrumentation ends it
 * as soon as the response is written, a moment before the monitor's next heartbeat), and an
 * ended span takes no events. So a span seen during a block has its `end()` deferred until
 * that block's event arrives (at most {@link MAX_END_DELAY_MS}), with the end time it was given
 * or the time it was called: the span's recorded duration does not change.
 */
class SpanBook {
  readonly #spans = new Map<string, { span: WeakRef<Span>; finish?: () => void; timer?: NodeJS.Timeout }>();
  readonly #patched = new WeakSet<Span>();

  /** Runs on the main thread inside the watchdog's capture expression: cheap, never throws. */
  readonly reader = (): { traceId: string; spanId: string } | undefined => {
    const span = trace.getActiveSpan();
    if (span === undefined) return undefined;
    const context = span.spanContext();
    if (!isSpanContextValid(context) || !span.isRecording()) return undefined;
    const spanId = context.spanId;
    if (!this.#spans.has(spanId)) {
      this.#spans.set(spanId, { span: new WeakRef(span) });
      if (this.#spans.size > MAX_SPANS) this.#settle(this.#spans.keys().next().value as string);
    }
    if (!this.#patched.has(span)) {
      this.#patched.add(span);
      this.#deferEnd(span, spanId);
    }
    return { traceId: context.traceId, spanId };
  };

  addBlock(event: BlockEvent, attributes: Attributes): void {
    const spanId = event.context?.['spanId'];
    if (typeof spanId !== 'string') return;
    const span = this.#spans.get(spanId)?.span.deref();
    if (span !== undefined && span.isRecording()) {
      span.addEvent('loopguard.block', { ...attributes, 'loopguard.block.duration': event.duration / 1000 }, event.startedAt);
    }
    this.#settle(spanId);
  }

  /** Forget a span, ending it now (with its own end time) if its end() was deferred. */
  #settle(spanId: string): void {
    const entry = this.#spans.get(spanId);
    this.#spans.delete(spanId);
    if (entry?.finish === undefined) return;
    clearTimeout(entry.timer);
    entry.finish();
  }

  #deferEnd(span: Span, spanId: string): void {
    const end = span.end;
    span.end = (endTime?: TimeInput): void => {
      const entry = this.#spans.get(spanId);
      span.end = end;
      if (entry === undefined || entry.finish !== undefined) return end.call(span, endTime);
      const time = endTime ?? performance.timeOrigin + performance.now();
      entry.finish = () => end.call(span, time);
      // The block's event may never come (an ignore rule, a stopped monitor): end it anyway.
      entry.timer = setTimeout(() => this.#settle(spanId), MAX_END_DELAY_MS);
      entry.timer.unref();
    };
  }
}

/** Whether @opentelemetry/instrumentation-runtime-node has a meter on this provider or the global one. */
function runtimeInstrumentationReports(provider: MeterProvider): boolean {
  for (const candidate of new Set([provider, metricsApi.getMeterProvider()])) {
    try {
      // The SDK's MeterProvider keeps one shared state per meter, keyed `name:version:schemaUrl`.
      const states = (candidate as { _sharedState?: { meterSharedStates?: Map<string, unknown> } })._sharedState
        ?.meterSharedStates;
      if (states instanceof Map) {
        for (const key of states.keys()) if (key.startsWith(`${RUNTIME_INSTRUMENTATION}:`)) return true;
      }
    } catch {
      // Another provider implementation: not detectable, report the metrics.
    }
  }
  return false;
}

function checkMeterProvider(value: unknown): MeterProvider {
  if (value === undefined) return metricsApi.getMeterProvider();
  if (typeof value !== 'object' || value === null || typeof (value as MeterProvider).getMeter !== 'function') {
    throw new InvalidOptionTypeError(`meterProvider must be an OpenTelemetry MeterProvider, got ${describeValue(value)}`);
  }
  return value as MeterProvider;
}
