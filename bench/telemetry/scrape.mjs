// The cost of one scrape, in this process: loopguard's Prometheus collectors alone (a registry
// of their own, one pool listed), prom-client's collectDefaultMetrics() for comparison, one
// collection of loopguard's OTel meter, and the window read (LoopWindow.read) alone. CPU µs
// (process.cpuUsage), medians: back to back (window reads less than a second apart give the
// previous reading again), right after a 1.05 s pause (a fresh window), and after a 0.6 s pause
// that follows such a scrape (the reading reused: the pause alone, without the window's read).
// Prints one JSON line.
import { otelOnDemand } from './otel-reader.mjs';
import { readdirSync, readFileSync } from 'node:fs';
import { Registry, collectDefaultMetrics } from 'prom-client';

const distDir = new URL('../../dist/', import.meta.url);
const dist = (name) => new URL(`${name}.js`, distDir).href;
const { startMonitor, runInThreadpool } = await import(dist('index'));
const { prometheusMetrics } = await import(dist('prometheus'));
// LoopWindow is internal: the chunk that exports it (its name is a content hash).
const windowChunk = readdirSync(distDir).find((file) => file.endsWith('.js') && /export \{[^}]*\bLoopWindow\b/.test(readFileSync(new URL(file, distDir), 'utf8')));
const { LoopWindow } = await import(new URL(windowChunk, distDir).href);
const monitor = startMonitor({ log: false });
await runInThreadpool((a, b) => a + b, 1, 2);

const ROUNDS = Number(process.env.BENCH_SCRAPES ?? 500);
const SPACED = Number(process.env.BENCH_SPACED_SCRAPES ?? 9);
// The process's CPU, the watchdog thread's included (it wakes ~10 times a second: medians).
// process.threadCpuUsage() (Node ≥ 23.9) would leave it out, but on Linux it counts in
// scheduler ticks (4 ms here): a scrape read 0.
const threadCpu = (since) => process.cpuUsage(since);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values) => values.slice().sort((a, b) => a - b)[values.length >> 1];

async function cpuOf(scrape) {
  const cpu = threadCpu();
  await scrape();
  const used = threadCpu(cpu);
  return used.user + used.system;
}

async function measure(scrape, { reused = true } = {}) {
  for (let i = 0; i < 50; i++) await scrape(); // warm up
  const cpu = threadCpu();
  for (let i = 0; i < ROUNDS; i++) await scrape();
  const used = threadCpu(cpu);
  const afterPause = [];
  const afterPauseReused = [];
  for (let i = 0; i < SPACED; i++) {
    await sleep(1050);
    afterPause.push(await cpuOf(scrape));
    if (!reused) continue;
    await sleep(600);
    afterPauseReused.push(await cpuOf(scrape));
  }
  return { backToBack: (used.user + used.system) / ROUNDS, afterPause: median(afterPause), afterPauseReused: reused ? median(afterPauseReused) : undefined };
}

const ours = new Registry();
prometheusMetrics({ registry: ours, monitor });
const defaults = new Registry();
collectDefaultMetrics({ register: defaults });
const window = new LoopWindow(monitor);
const result = {
  prometheus: await measure(() => ours.metrics()),
  defaults: await measure(() => defaults.metrics(), { reused: false }),
  // Back to back, a read less than a second after the previous one returns it again: that row
  // is the cache's cost; after a 1.05 s pause it is a real read.
  window: await measure(async () => window.read(), { reused: false }),
};
try {
  const sdk = await import('@opentelemetry/sdk-metrics');
  const { otelMetrics } = await import(dist('otel'));
  result.otel = await measure(otelOnDemand(sdk, otelMetrics, monitor));
} catch (error) {
  result.otelUnavailable = String(error.message);
}
window.stop();
await monitor.stop();
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
