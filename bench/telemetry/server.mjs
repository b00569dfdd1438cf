// The node:http hello service of bench/overhead with the monitor on, and one exporter or none.
// argv: <variant: monitor|self|prometheus|otel|sdk|bare|adapter> [scrape interval ms, 0 = never; default 1000].
// bare: no monitor (the baseline of BENCH_BASELINE=bare); self: the monitor, stopped and started
// again by the toggle message (the monitor's own cost, in the toggle rounds); adapter: the monitor and the
// listener in loopguard/http's wrap(); sdk: the OTel SDK's MeterProvider with one gauge of the
// app's own and no loopguard/otel (the baseline of loopguard/otel's own cost).
// IPC as bench/overhead/server.mjs:
//   → { type: 'ready', port } | { type: 'unavailable', reason }
//   ← { type: 'start', requests? } → { type: 'started' }   ← { type: 'stop' } → { type: 'window', cpuUs, requests, scrapes, blocks }
//   ← { type: 'scrapes' } → { type: 'scrapes', cpuUs: [...], wallUs: [...] }   (each scrape so far)
//   ← { type: 'idle', ms } → { type: 'idle', cpuMsPerSecond }   (no load, no scrapes)
//   ← { type: 'exporter', on } → { type: 'exporter' }   (prometheus, otel: unregister it, or install it again; self: stop() the monitor, or start it again; monitor: nothing)
// The exporter is scraped (collected) on a timer of its own, loaded or not, as a Prometheus
// server or an OTel reader would (they scrape every 15–60 s): the scrapes that fall inside a
// measured window count in its CPU, so over many windows each request carries its share.
import { otelOnDemand } from './otel-reader.mjs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval, setTimeout } from 'node:timers';

const variant = process.argv[2];
const scrapeEveryMs = Number(process.argv[3] ?? 1000);
const dist = (name) => new URL(`../../dist/${name}.js`, import.meta.url).href;
const { startMonitor } = await import(dist('index'));
let monitor = variant === 'bare' ? undefined : startMonitor({ log: false });
const wrapListener = variant === 'adapter' ? (await import(dist('http'))).wrap : (listener) => listener;
const blockCount = () => monitor?.stats().blocks.count ?? 0;

let scrape;
// The exporter's handle and how to install it again, for the toggle rounds: the same process
// with and without the exporter, its JIT and heap otherwise the same.
let exporter;
if (variant === 'self') {
  const stop = { unregister: () => { monitor.stop(); monitor = undefined; } };
  // The monitor started above is the first install.
  exporter = { install: () => { monitor = startMonitor({ log: false }); return stop; }, installed: stop };
} else if (variant === 'prometheus') {
  const { Registry } = await import('prom-client');
  const { prometheusMetrics } = await import(dist('prometheus'));
  const registry = new Registry();
  const install = () => prometheusMetrics({ registry, monitor });
  exporter = { install, installed: install() };
  scrape = () => registry.metrics();
} else if (variant === 'otel' || variant === 'sdk') {
  let sdk;
  try {
    sdk = await import('@opentelemetry/sdk-metrics');
  } catch (error) {
    process.send({ type: 'unavailable', reason: `the OpenTelemetry SDK does not load here (${error.message})` });
    process.disconnect();
    process.exit(0);
  }
  if (variant === 'otel') {
    const { otelMetrics } = await import(dist('otel'));
    scrape = otelOnDemand(sdk, otelMetrics, monitor);
    exporter = scrape;
  } else {
    scrape = otelOnDemand(sdk, appMetrics, monitor);
  }
}

/** The sdk variant's stand-in for loopguard/otel: one observable gauge, as an app exports its own. */
function appMetrics({ meterProvider }) {
  const gauge = meterProvider.getMeter('app').createObservableGauge('app.memory.rss', { unit: 'By' });
  gauge.addCallback((result) => result.observe(process.memoryUsage.rss()));
}

let served = 0;
async function work() {
  let body = 'hello world\n';
  for (let i = 0; i < 5; i += 1) body = await Promise.resolve(body);
  return body;
}
const server = http.createServer(wrapListener((req, res) => {
  work().then((body) => {
    served += 1;
    if (window !== undefined && window.end === undefined && served - window.served === window.target) window.end = { cpu: process.cpuUsage(window.cpu), served };
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  });
}));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

// Each scrape's CPU and wall time. A scrape is a chain of promises with no I/O (prom-client's
// collects and the SDK's callbacks are synchronous), so no request runs between its start and
// its end: the CPU read around it is the scrape's.
let scrapes = 0;
const scrapeCpuUs = [];
const scrapeWallUs = [];
// The process's CPU, the watchdog thread's now and then included (medians, then): Linux counts
// process.threadCpuUsage() in scheduler ticks, far coarser than a scrape.
const threadCpu = (since) => process.cpuUsage(since);
async function timedScrape() {
  const cpu = threadCpu();
  const start = performance.now();
  await scrape();
  const used = threadCpu(cpu);
  scrapeWallUs.push((performance.now() - start) * 1000);
  scrapeCpuUs.push(used.user + used.system);
  scrapes += 1;
}
const scraper = scrape !== undefined && scrapeEveryMs > 0 ? setInterval(() => void timedScrape(), scrapeEveryMs) : undefined;
scraper?.unref();

let window;
process.on('message', (message) => {
  if (message.type === 'start') {
    // The window ends as the target-th request is answered (message.requests, what the driver
    // sends): autocannon notices it is done only at its next tick, and the CPU of that idle
    // wait (the monitor's beats) would count in the window.
    window = { cpu: process.cpuUsage(), served, scrapes, blocks: blockCount(), target: message.requests ?? Infinity, end: undefined };
    process.send({ type: 'started' });
  } else if (message.type === 'stop') {
    const { cpu, served: end } = window.end ?? { cpu: process.cpuUsage(window.cpu), served };
    // Blocks the monitor caught in the window: a host that starves the server for > 100 ms
    // makes it capture stacks and report blocks, work no variant does on a quiet machine.
    const blocks = blockCount() - window.blocks;
    process.send({ type: 'window', cpuUs: cpu.user + cpu.system, requests: end - window.served, scrapes: scrapes - window.scrapes, blocks });
  } else if (message.type === 'exporter') {
    // monitor: nothing to toggle (exporter undefined), the rounds' A/A.
    if (exporter !== undefined) {
      if (!message.on && exporter.installed !== undefined) {
        exporter.installed.unregister();
        exporter.installed = undefined;
      } else if (message.on && exporter.installed === undefined) {
        exporter.installed = exporter.install();
      }
    }
    // A start's own work (the watchdog thread's boot, a first histogram) is not per request:
    // the round begins once it has settled, after either toggle alike.
    setTimeout(() => process.send({ type: 'exporter' }), 500);
  } else if (message.type === 'scrapes') {
    process.send({ type: 'scrapes', cpuUs: scrapeCpuUs, wallUs: scrapeWallUs });
  } else if (message.type === 'idle') {
    // Idle: no load and no scrapes, the CPU the process spends per second doing nothing.
    clearInterval(scraper);
    const cpu = process.cpuUsage();
    setTimeout(() => {
      const used = process.cpuUsage(cpu);
      process.send({ type: 'idle', cpuMsPerSecond: (used.user + used.system) / 1000 / (message.ms / 1000) });
    }, message.ms);
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready', port: server.address().port });
