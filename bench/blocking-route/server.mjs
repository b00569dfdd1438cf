// A service whose only route blocks 150 ms on every request (a sync helper after an await, as
// real handlers do), in its own process, loaded from the driver over 127.0.0.1.
// argv: <service: http|express> <variant: bare|loopguard|loopguard-noadapter> [block ms]
//   loopguard: the monitor (default options) and the service's adapter (loopguard/http's
//   wrap(), loopguard/express): the quick stack names the route, no debugger is enabled.
//   loopguard-noadapter: the monitor alone: each block's request walk enables the debugger.
// IPC: → { type: 'ready', port }; ← { type: 'stop' } → { type: 'window', blocks, cpuUs, requests }
import http from 'node:http';

const [service, variant, blockArg] = process.argv.slice(2);
const BLOCK_MS = Number(blockArg ?? 150);
let served = 0;
let blocks = 0;

function priceCart(items) {
  const end = performance.now() + BLOCK_MS;
  let total = 0;
  while (performance.now() < end) total = (total * 31 + items.length) | 0;
  return total;
}

async function handle() {
  await new Promise((resolve) => setImmediate(resolve)); // the cart from the database
  served += 1;
  return JSON.stringify({ total: priceCart(['a', 'b']) });
}

const monitored = variant !== 'bare';
const adapted = variant === 'loopguard';
let monitor;
if (monitored) {
  const { startMonitor } = await import('loopguard');
  monitor = startMonitor({ log: false });
  monitor.on('block', () => (blocks += 1));
}

let listener;
if (service === 'http') {
  const plain = (req, res) => {
    handle().then((body) => res.end(body));
  };
  listener = adapted ? (await import('loopguard/http')).wrap(plain) : plain;
} else {
  const { default: express } = await import('express');
  const app = express();
  if (adapted) app.use((await import('loopguard/express')).loopguard());
  app.get('/cart/:id', async (req, res) => {
    res.type('json').send(await handle());
  });
  listener = app;
}
const server = http.createServer(listener);
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const cpuStart = process.cpuUsage();
process.send({ type: 'ready', port: server.address().port });
process.on('message', async (message) => {
  if (message.type !== 'stop') return;
  await monitor?.settled?.();
  const cpu = process.cpuUsage(cpuStart);
  process.send({ type: 'window', blocks, requests: served, cpuUs: cpu.user + cpu.system });
});
