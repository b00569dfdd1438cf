// An OpenTelemetry MetricReader that collects only when asked, wired to loopguard/otel: what
// both telemetry benchmarks scrape through. `install` is called with { meterProvider, monitor }
// (otelMetrics, or a stand-in); the returned collect function carries `install()` to call it
// again on the same provider (the toggle rounds of bench/telemetry.mjs).
export function otelOnDemand(sdk, install, monitor) {
  class OnDemandReader extends sdk.MetricReader {
    async onForceFlush() {}
    async onShutdown() {}
  }
  const reader = new OnDemandReader();
  const meterProvider = new sdk.MeterProvider({ readers: [reader] });
  const collect = () => reader.collect();
  collect.install = () => install({ meterProvider, monitor });
  collect.installed = collect.install();
  return collect;
}
