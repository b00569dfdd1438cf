// One hello-world service in its own process, loaded from the driver over 127.0.0.1.
// argv: <service: http|fastify> <variant>. Talks to the driver over the IPC channel:
//   → { type: 'ready', port } | { type: 'unavailable', reason }
//   ← { type: 'start' }  → { type: 'started' }   (opens the measured window)
//   ← { type: 'stop' }   → { type: 'window', cpuUs, requests, blocks, rss }
// CPU is read here, inside the server, so the load generator's own cost never counts.
import http from 'node:http';
import { installVariant, loadAdapter, VariantUnavailable } from './variants.mjs';

const [service, variant] = process.argv.slice(2);
const AWAITS = 5;

let served = 0;

// A small async chain per request, like a handler that awaits a cache, a DB call, a render:
// the awaits are what async_hooks-based tools pay for.
async function work() {
  let body = 'hello world\n';
  for (let i = 0; i < AWAITS; i += 1) body = await Promise.resolve(body);
  return body;
}

function pathOf(url) {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Limits a hello service never reaches: what shed() costs a request that it lets through. */
const SHED_OPTIONS = { maxDelay: 200, maxUtilization: 0.99, window: 5000, health: '/health' };

async function startHttp(state) {
  const listener = (req, res) => {
    work().then((body) => {
      served += 1;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
      res.end(body);
    });
  };
  const { withRequest } = state;
  let adapted = variant === 'loopguard+adapter' ? (await loadAdapter('http')).wrap(listener) : listener;
  if (variant === 'loopguard+shed') {
    const guard = (await loadAdapter('http')).shed(SHED_OPTIONS);
    adapted = (req, res) => {
      if (!guard(req, res)) listener(req, res);
    };
  }
  const server = http.createServer(withRequest === undefined
    ? adapted
    : (req, res) => withRequest({ method: req.method, path: pathOf(req.url) }, () => listener(req, res)));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server.address().port;
}

async function startFastify(app) {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app.server.address().port;
}

// Build Fastify's app (and compile its router, `ready()`) before any variant starts: that
// start-up work blocks the loop for 100–300 ms on a busy host, which the monitor rightly
// reports, but start-up is not what this benchmark is about. The per-request context hook
// reads `state` late, once the variant is installed.
async function buildFastify() {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  // Registered before the routes, as its README says: onRoute wraps each handler once.
  if (variant === 'loopguard+adapter') await app.register((await loadAdapter('fastify')).loopguard);
  if (variant === 'loopguard+shed') await app.register((await loadAdapter('fastify')).shed(SHED_OPTIONS));
  if (variant === 'loopguard+ctx') {
    app.addHook('onRequest', (req, _reply, done) => {
      state.withRequest({ method: req.method, path: pathOf(req.url) }, done);
    });
  }
  app.get('/hello', async () => {
    const body = await work();
    served += 1;
    return body;
  });
  await app.ready();
  return app;
}

const fastifyApp = service === 'fastify' ? await buildFastify() : undefined;

let state;
try {
  state = await installVariant(variant);
} catch (error) {
  if (!(error instanceof VariantUnavailable)) throw error;
  process.send({ type: 'unavailable', reason: error.message });
  process.disconnect();
  process.exit(0);
}
const port = fastifyApp ? await startFastify(fastifyApp) : await startHttp(state);

let window;
process.on('message', (message) => {
  if (message.type === 'start') {
    window = { cpu: process.cpuUsage(), served, blocks: state.blocks() };
    process.send({ type: 'started' });
  } else if (message.type === 'stop') {
    const cpu = process.cpuUsage(window.cpu);
    process.send({
      type: 'window',
      cpuUs: cpu.user + cpu.system,
      requests: served - window.served,
      blocks: state.blocks() - window.blocks,
      totalBlocks: state.blocks(),
      rss: process.memoryUsage().rss,
    });
  }
});
// The driver ends a run by closing the channel; nothing else has to be cleaned up.
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready', port });
