// An OpenTelemetry MetricReader that collects only when asked, wired to loopguard/otel: what
// both telemetry benchmarks scrape through.
export function otelOnDemand(sdk, otelMetrics, monitor) {
  class OnDemandReader extends sdk.MetricReader {
    async onForceFlush() {}
    async onShutdown() {}
  }
  const reader = new OnDemandReader();
  otelMetrics({ meterProvider: new sdk.MeterProvider({ readers: [reader] }), monitor });
  return () => reader.collect();
}
