// A node:http hello service for bench/als.mjs: argv <variant: bare|run|enter>. Each request
// awaits five times and then continues in a setImmediate callback (the shape of bcrypt's
// async API, where a route frame cannot follow), like bench/overhead/server.mjs plus the
// setImmediate. `run`/`enter` open one AsyncLocalStorage context per request holding
// { method, route } as loopguard's per-request context would. CPU is read inside the server.
import http from 'node:http';
import { AsyncLocalStorage } from 'node:async_hooks';

const variant = process.argv[2];
const storage = new AsyncLocalStorage();
let served = 0;
let seen = 0;

async function work() {
  let body = 'hello world\n';
  for (let i = 0; i < 5; i += 1) body = await Promise.resolve(body);
  return new Promise((resolve) => setImmediate(() => {
    // What a block in this continuation would be attributed with (read once per 1024, as a
    // capture would read it rarely; reading it keeps the store from being optimised away).
    if ((++seen & 1023) === 0 && variant !== 'bare' && storage.getStore() === undefined) throw new Error('lost the store');
    resolve(body);
  }));
}

function listener(req, res) {
  work().then((body) => {
    served += 1;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  });
}

const handlers = {
  bare: listener,
  run: (req, res) => storage.run({ method: req.method, route: undefined }, listener, req, res),
  enter: (req, res) => {
    storage.enterWith({ method: req.method, route: undefined });
    listener(req, res);
  },
};
const server = http.createServer(handlers[variant]);
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

let window;
process.on('message', (message) => {
  if (message.type === 'start') {
    window = { cpu: process.cpuUsage(), served };
    process.send({ type: 'started' });
  } else if (message.type === 'stop') {
    const cpu = process.cpuUsage(window.cpu);
    process.send({ type: 'window', cpuUs: cpu.user + cpu.system, requests: served - window.served });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready', port: server.address().port });
