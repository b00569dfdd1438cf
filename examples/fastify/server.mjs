// Fastify with a route that runs wholly off the event loop (FastAPI's rule for `def` routes).
//   node examples/fastify/server.mjs          serve on http://127.0.0.1:3000
//   node examples/fastify/server.mjs --once   call the routes once, print what happened, exit
import Fastify from 'fastify';
import { startMonitor } from 'loopguard';
import { loopguard, offload } from 'loopguard/fastify';
import { renderReport } from './tasks.mjs';

const monitor = startMonitor({ threshold: 50 });

const app = Fastify();
await app.register(loopguard); // every route's method and pattern go into block warnings
app.get('/reports/:id', offload(renderReport));
app.get('/health', async () => ({ ok: true }));

const once = process.argv.includes('--once');
const url = await app.listen({ port: once ? 0 : Number(process.env.PORT ?? 3000), host: '127.0.0.1' });
if (!once) {
  console.log(`try: curl '${url}/reports/q3?days=60'   (and curl ${url}/health while it runs)`);
} else {
  const started = performance.now();
  // Three reports at once, and a health check that is answered while they run.
  const reports = ['q1', 'q2', 'q3'].map((id) => fetch(`${url}/reports/${id}?days=60`).then((r) => r.json()));
  const health = await fetch(`${url}/health`);
  console.log(`GET /health -> ${health.status} after ${Math.round(performance.now() - started)} ms`);
  for (const report of await Promise.all(reports)) console.log(`GET /reports/:id -> ${JSON.stringify(report)}`);
  const invalid = await fetch(`${url}/reports/q4?days=0`);
  console.log(`GET /reports/q4?days=0 -> ${invalid.status} ${JSON.stringify(await invalid.json())}`);
  console.log(`blocks: ${monitor.stats().blocks.count}, loop delay p99: ${monitor.stats().delay.p99.toFixed(1)} ms`);
  await app.close();
  await monitor.stop();
}
