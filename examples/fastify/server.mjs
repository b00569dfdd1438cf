// Fastify with a route that runs wholly off the event loop (FastAPI's rule for `def` routes).
//   node examples/fastify/server.mjs          serve on http://127.0.0.1:3000
//   node examples/fastify/server.mjs --once   call three reports at once and a bad request, then exit
import { spawn } from 'node:child_process';
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
  // Three reports at once, each answered from the pool while the loop stays free.
  await Promise.all(['q1', 'q2', 'q3'].map((id) => drive(url, [['GET', `/reports/${id}?days=20`]])));
  await drive(url, [['GET', '/reports/q4?days=0']]);
  const { blocks, delay } = monitor.stats();
  console.log(`blocks: ${blocks.count}, loop delay max: ${delay.max.toFixed(1)} ms, p99: ${delay.p99.toFixed(1)} ms`);
  await app.close();
  await monitor.stop();
}

/**
 * The client of --once runs in a process of its own, so that its work (fetch) never shows up
 * as a block of this server's loop. It prints one line per request.
 */
function drive(url, requests) {
  const code = `for (const [method, path, body] of ${JSON.stringify(requests)}) {
    const text = Array.isArray(body) ? body[0].repeat(body[1]) : body; // [text, times]: built here, not in argv
    const response = await fetch(${JSON.stringify(url)} + path, { method, body: text, headers: text ? { 'content-type': 'text/plain' } : {} });
    console.log(method, path, '->', response.status, (await response.text()).slice(0, 120));
  }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: 'inherit' });
  return new Promise((resolve) => child.on('exit', resolve));
}

function printTopBlockers(monitor) {
  console.log('top blockers:');
  for (const { site, route, count, maxMs } of monitor.topBlockers(5)) {
    console.log(`  ${route ?? '(no route)'}  ${site}  ×${count}, max ${Math.round(maxMs)} ms`);
  }
}
