// Hono on @hono/node-server: blocks reported with the route pattern, and an offloaded route.
//   node examples/hono/server.mjs          serve on http://127.0.0.1:3000
//   node examples/hono/server.mjs --once   call the routes once, print what happened, exit
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { startMonitor } from 'loopguard';
import { loopguard, offload } from 'loopguard/hono';
import { topWords, wordCounts } from './tasks.mjs';
import { drive, printTopBlockers } from '../drive.mjs';

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
  const sentence = 'the quick brown fox jumps over the lazy dog and the dog sleeps ';
  // 2.5 MB for the inline route (the app reads it itself), 1 MB for offload(), which reads at
  // most 1 MiB of body (413 beyond), as every adapter's offload() does.
  await drive(url, [
    ['POST', '/words/inline', [sentence, 40_000]],
    ['POST', '/words/offloaded', [sentence, 16_000]],
    ['POST', '/words/offloaded', ''],
  ]);
  printTopBlockers(monitor); // POST /words/inline is there, the offloaded route is not
  server.close();
  await monitor.stop();
});
