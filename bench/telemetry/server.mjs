// The node:http hello service of bench/overhead with the monitor on, and one exporter or none.
// argv: <variant: monitor|prometheus|otel>. IPC as bench/overhead/server.mjs:
//   → { type: 'ready', port } | { type: 'unavailable', reason }
//   ← { type: 'start' } → { type: 'started' }   ← { type: 'stop' } → { type: 'window', cpuUs, requests, scrapes }
//   ← { type: 'idle', ms } → { type: 'idle', cpuMsPerSecond }   (no load, no scrapes)
// The exporters are scraped (collected) once a second while loaded, far more often than a
// Prometheus server or an OTel reader would (15–60 s): the scrapes' CPU counts in the window.
import { otelOnDemand } from './otel-reader.mjs';
import http from 'node:http';
import { clearInterval, setInterval, setTimeout } from 'node:timers';

const variant = process.argv[2];
const dist = (name) => new URL(`../../dist/${name}.js`, import.meta.url).href;
const { startMonitor } = await import(dist('index'));
const monitor = startMonitor({ log: false });

let scrape = async () => undefined;
if (variant === 'prometheus') {
  const { Registry } = await import('prom-client');
  const { prometheusMetrics } = await import(dist('prometheus'));
  const registry = new Registry();
  prometheusMetrics({ registry, monitor });
  scrape = () => registry.metrics();
} else if (variant === 'otel') {
  let sdk;
  try {
    sdk = await import('@opentelemetry/sdk-metrics');
  } catch (error) {
    process.send({ type: 'unavailable', reason: `the OpenTelemetry SDK does not load here (${error.message})` });
    process.disconnect();
    process.exit(0);
  }
  const { otelMetrics } = await import(dist('otel'));
  scrape = otelOnDemand(sdk, otelMetrics, monitor);
}

let served = 0;
async function work() {
  let body = 'hello world\n';
  for (let i = 0; i < 5; i += 1) body = await Promise.resolve(body);
  return body;
}
const server = http.createServer((req, res) => {
  work().then((body) => {
    served += 1;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  });
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

let scrapes = 0;
const scraper = setInterval(() => void scrape().then(() => (scrapes += 1)), 1000);
scraper.unref();

let window;
process.on('message', (message) => {
  if (message.type === 'start') {
    window = { cpu: process.cpuUsage(), served, scrapes };
    process.send({ type: 'started' });
  } else if (message.type === 'stop') {
    const cpu = process.cpuUsage(window.cpu);
    process.send({ type: 'window', cpuUs: cpu.user + cpu.system, requests: served - window.served, scrapes: scrapes - window.scrapes });
  }
});
process.on('message', (message) => {
  // Idle: no load and no scrapes, the CPU the process spends per second doing nothing.
  if (message.type === 'idle') {
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
