// Type tests of the exporters, checked by `tsc --noEmit`: their options take the peers' own
// types (a prom-client Registry, an OTel MeterProvider) and their handles expose no `any`.
import { Registry } from 'prom-client';
import { metrics } from '@opentelemetry/api';
import { prometheusMetrics, type PrometheusMetrics, type PrometheusMetricsOptions } from '../../src/telemetry/prometheus.js';
import { otelMetrics, type OtelMetrics, type OtelMetricsOptions } from '../../src/telemetry/otel.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

export const prometheus = (): PrometheusMetrics => prometheusMetrics({ registry: new Registry(), prefix: 'shop_', buckets: [0.1, 1] });
export const otel = (): OtelMetrics => otelMetrics({ meterProvider: metrics.getMeterProvider(), runtimeMetrics: 'auto', spans: false });

export type TelemetryChecks = [
  Expect<Equal<PrometheusMetricsOptions['registry'], Registry | undefined>>,
  Expect<Equal<PrometheusMetricsOptions['buckets'], number[] | undefined>>,
  Expect<Equal<OtelMetricsOptions['runtimeMetrics'], 'auto' | boolean | undefined>>,
  Expect<Equal<ReturnType<PrometheusMetrics['unregister']>, void>>,
  Expect<Equal<PrometheusMetrics['names'], readonly string[]>>,
  Expect<Equal<ReturnType<OtelMetrics['unregister']>, void>>,
];
