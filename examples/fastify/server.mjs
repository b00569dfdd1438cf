// Fastify with a route that runs wholly off the event loop (FastAPI's rule for `def` routes).
//   node examples/fastify/server.mjs          serve on http://127.0.0.1:3000
//   node examples/fastify/server.mjs --once   call three reports at once and a bad request, then exit
import Fastify from 'fastify';
import { startMonitor } from 'loopguard';
import { loopguard, offload } from 'loopguard/fastify';
import { renderReport } from './tasks.mjs';
import { drive } from '../drive.mjs';

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
  // Three reports at once, each answered from the pool while the loop stays free.
  await Promise.all(['q1', 'q2', 'q3'].map((id) => drive(url, [['GET', `/reports/${id}?days=20`]])));
  await drive(url, [['GET', '/reports/q4?days=0']]);
  const { blocks, delay } = monitor.stats();
  console.log(`blocks: ${blocks.count}, loop delay max: ${delay.max.toFixed(1)} ms, p99: ${delay.p99.toFixed(1)} ms`);
  await app.close();
  await monitor.stop();
}
