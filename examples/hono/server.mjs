// Hono on @hono/node-server: blocks reported with the route pattern, and an offloaded route.
//   node examples/hono/server.mjs          serve on http://127.0.0.1:3000
//   node examples/hono/server.mjs --once   call the routes once, print what happened, exit
import { spawn } from 'node:child_process';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { startMonitor } from 'loopguard';
import { loopguard, offload } from 'loopguard/hono';
import { topWords, wordCounts } from './tasks.mjs';

const monitor = startMonitor({ threshold: 50 });

const app = new Hono();
app.use(loopguard());
// Reported as POST /words/:mode when a large body blocks the loop.
app.post('/words/inline', async (c) => c.json({ top: wordCounts(await c.req.text()) }));
app.post('/words/offloaded', offload(topWords)); // the same work in a worker thread
app.onError((error, c) => c.json({ error: error.message }, error.status ?? 500));

const once = process.argv.includes('--once');
const server = serve({ fetch: app.fetch, port: once ? 0 : Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' }, async (info) => {
  const url = `http://127.0.0.1:${info.port}`;
  if (!once) {
    console.log(`try: curl -X POST --data-binary @README.md -H 'content-type: text/plain' ${url}/words/offloaded`);
    return;
  }
  const text = ['the quick brown fox jumps over the lazy dog and the dog sleeps ', 40_000];
  await drive(url, [['POST', '/words/inline', text], ['POST', '/words/offloaded', text], ['POST', '/words/offloaded', '']]);
  printTopBlockers(monitor); // POST /words/inline is there, the offloaded route is not
  server.close();
  await monitor.stop();
});

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
