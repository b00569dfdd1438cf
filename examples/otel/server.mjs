// OpenTelemetry metrics of a real Express service through the SDK's MeterProvider: the
// runtime metrics (nodejs.eventloop.*) and loopguard.block.duration, printed by the SDK's
// ConsoleMetricExporter. A block inside an active span is added to that span as an event.
//   node examples/otel/server.mjs          serve on http://127.0.0.1:3000, export every 10 s
//   node examples/otel/server.mjs --once   call the blocking route, export once, exit
// The OpenTelemetry SDK 3 needs Node >= 22.15.
import express from 'express';
import { metrics } from '@opentelemetry/api';
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { startMonitor } from 'loopguard';
import { loopguard } from 'loopguard/express';
import { otelMetrics } from 'loopguard/otel';
import { drive } from '../drive.mjs';

const once = process.argv.includes('--once');
const reader = new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), exportIntervalMillis: once ? 60_000 : 10_000 });
const meterProvider = new MeterProvider({ readers: [reader] });
metrics.setGlobalMeterProvider(meterProvider);

const monitor = startMonitor({ threshold: 50, log: false });
const telemetry = otelMetrics(); // the global provider set above; pass { meterProvider } to choose

function renderInvoice(id) {
  const end = performance.now() + 200; // ~200 ms of CPU on the loop
  let lines = 0;
  while (performance.now() < end) lines++;
  return { id, lines };
}

const app = express();
app.use(loopguard());
app.get('/invoices/:id', (req, res) => {
  res.json(renderInvoice(req.params.id));
});

const server = app.listen(once ? 0 : Number(process.env.PORT ?? 3000), '127.0.0.1', async () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  if (!once) {
    console.log(`try: curl ${url}/invoices/42   (metrics are printed every 10 s)`);
    return;
  }
  // A block is reported once the loop is free again, a moment after its response: wait for both.
  const reported = new Promise((resolve) => {
    monitor.on('block', (event) => event.context?.route === '/invoices/:id' && resolve());
  });
  await drive(url, [['GET', '/invoices/42']]);
  await Promise.race([reported, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  await reader.forceFlush(); // prints loopguard.block.duration and nodejs.eventloop.* now
  telemetry.unregister();
  server.close();
  await meterProvider.shutdown();
  await monitor.stop();
});
