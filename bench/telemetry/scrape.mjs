// The cost of one scrape, in this process: loopguard's Prometheus collectors alone (a registry
// of their own, one pool listed), prom-client's collectDefaultMetrics() for comparison, and one
// collection of loopguard's OTel meter. Prints one JSON line.
import { otelOnDemand } from './otel-reader.mjs';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { performance } from 'node:perf_hooks';

const dist = (name) => new URL(`../../dist/${name}.js`, import.meta.url).href;
const { startMonitor, runInThreadpool } = await import(dist('index'));
const { prometheusMetrics } = await import(dist('prometheus'));
const monitor = startMonitor({ log: false });
await runInThreadpool((a, b) => a + b, 1, 2);

const ROUNDS = Number(process.env.BENCH_SCRAPES ?? 500);
const SPACED = Number(process.env.BENCH_SPACED_SCRAPES ?? 5);

async function perScrape(scrape) {
  for (let i = 0; i < 50; i++) await scrape(); // warm up
  const start = performance.now();
  for (let i = 0; i < ROUNDS; i++) await scrape();
  return ((performance.now() - start) * 1000) / ROUNDS;
}

/** Scrapes more than a second apart, each reading a fresh window (back-to-back ones reuse it). */
async function spacedScrape(scrape) {
  const times = [];
  for (let i = 0; i < SPACED; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1050));
    const start = performance.now();
    await scrape();
    times.push((performance.now() - start) * 1000);
  }
  return times.sort((a, b) => a - b)[times.length >> 1];
}

const ours = new Registry();
prometheusMetrics({ registry: ours, monitor });
const defaults = new Registry();
collectDefaultMetrics({ register: defaults });
const result = {
  prometheusUs: await perScrape(() => ours.metrics()),
  prometheusFreshWindowUs: await spacedScrape(() => ours.metrics()),
  defaultMetricsUs: await perScrape(() => defaults.metrics()),
};
try {
  const sdk = await import('@opentelemetry/sdk-metrics');
  const { otelMetrics } = await import(dist('otel'));
  const collect = otelOnDemand(sdk, otelMetrics, monitor);
  result.otelUs = await perScrape(collect);
  result.otelFreshWindowUs = await spacedScrape(collect);
} catch (error) {
  result.otelUnavailable = String(error.message);
}
await monitor.stop();
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
