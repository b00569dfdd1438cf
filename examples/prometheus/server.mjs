// Prometheus metrics of a real Express service: loopguard's beside prom-client's defaults,
// served on GET /metrics, and a route that blocks the loop.
//   node examples/prometheus/server.mjs          serve on http://127.0.0.1:3000
//   node examples/prometheus/server.mjs --once   call the blocking route, print loopguard's metrics, exit
import express from 'express';
import client from 'prom-client';
import { startMonitor } from 'loopguard';
import { loopguard } from 'loopguard/express';
import { prometheusMetrics } from 'loopguard/prometheus';
import { drive } from '../drive.mjs';

// Start the monitor first, with your options: prometheusMetrics() listens to the running one.
const monitor = startMonitor({ threshold: 50, log: false });
client.collectDefaultMetrics(); // prom-client's own nodejs_* and process_* metrics
const metrics = prometheusMetrics(); // loopguard_* on the same (global) registry

function renderInvoice(id) {
  // Stands in for a slow template or a big JSON.stringify: ~200 ms of CPU on the loop.
  const end = performance.now() + 200;
  let lines = 0;
  while (performance.now() < end) lines++;
  return { id, lines };
}

const app = express();
app.use(loopguard()); // gives the blocks their route pattern: /invoices/:id, never /invoices/42
app.get('/invoices/:id', (req, res) => {
  res.json(renderInvoice(req.params.id));
});
app.get('/metrics', async (_req, res) => {
  res.set('Content-Type', client.register.contentType);
  res.end(await client.register.metrics());
});

const once = process.argv.includes('--once');
const server = app.listen(once ? 0 : Number(process.env.PORT ?? 3000), '127.0.0.1', async () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  if (!once) {
    console.log(`try: curl ${url}/invoices/42   then   curl ${url}/metrics`);
    return;
  }
  // A block is reported once the loop is free again, a moment after its response: wait for both.
  let blocked = 0;
  const bothReported = new Promise((resolve) => {
    monitor.on('block', (event) => event.context?.route === '/invoices/:id' && ++blocked === 2 && resolve());
  });
  await drive(url, [['GET', '/invoices/42'], ['GET', '/invoices/43']]);
  await Promise.race([bothReported, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  const exposition = await client.register.metrics();
  console.log(exposition.split('\n').filter((line) => /^loopguard_(blocks_total|block_duration_seconds_count|eventloop)/.test(line)).join('\n'));
  metrics.unregister();
  server.close();
  await monitor.stop();
});
