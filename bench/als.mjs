// node bench/als.mjs — what one AsyncLocalStorage context per request costs a node:http hello
// service (five awaits and a setImmediate per request) on each Node: CPU µs per request
// (measured inside the server) and req/s (autocannon, from this process), bare against
// AsyncLocalStorage.run and enterWith. Each variant run sits between two bare runs and its
// ratio is taken against their mean (the host is shared; drift over seconds cancels).
// Knobs (env): ALS_NODES="label=/path/to/node[ --flag],..." ALS_REPS=3 ALS_DURATION=3 ALS_WARMUP=1
//   ALS_CONNECTIONS=10 ALS_VARIANTS=run,enter
import { fork } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import autocannon from 'autocannon';

const env = (name, fallback) => process.env[name] ?? fallback;
const NODES = env('ALS_NODES', [
  `20=${process.execPath}`,
  '22=/tmp/loopguard-node22/node_modules/.bin/node',
  '22+acf=/tmp/loopguard-node22/node_modules/.bin/node --experimental-async-context-frame',
  '24=/tmp/loopguard-node24/node_modules/.bin/node',
  '26=/tmp/loopguard-node26/node_modules/.bin/node',
].join(',')).split(',').map((spec) => {
  const [label, command] = spec.split('=');
  const [execPath, ...execArgv] = command.split(' ');
  return { label, execPath, execArgv };
});
const REPS = Number(env('ALS_REPS', 3));
const DURATION = Number(env('ALS_DURATION', 3));
const WARMUP = Number(env('ALS_WARMUP', 1));
const CONNECTIONS = Number(env('ALS_CONNECTIONS', 10));
const VARIANTS = env('ALS_VARIANTS', 'run,enter').split(',');
const serverFile = new URL('./als/server.mjs', import.meta.url);

function next(child, type) {
  return new Promise((resolve, reject) => {
    const onMessage = (message) => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before ${type}`)));
  });
}

async function runOnce(node, variant) {
  const child = fork(serverFile, [variant], { execPath: node.execPath, execArgv: node.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const { port } = await next(child, 'ready');
    const url = `http://127.0.0.1:${port}/`;
    if (WARMUP > 0) await autocannon({ url, connections: CONNECTIONS, duration: WARMUP });
    child.send({ type: 'start' });
    await next(child, 'started');
    const load = await autocannon({ url, connections: CONNECTIONS, duration: DURATION });
    child.send({ type: 'stop' });
    const window = await next(child, 'window');
    return { cpu: window.cpuUs / window.requests, rps: load.requests.total / DURATION, errors: load.errors + load.non2xx };
  } finally {
    const exited = once(child, 'exit');
    child.disconnect();
    await exited;
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
const rows = [];
process.stderr.write(`${new Date().toISOString()} ${os.availableParallelism()} CPUs (${os.cpus()[0]?.model}), load ${load()}\n`);
await runOnce(NODES[0], 'bare'); // the first run of a sitting is slow (autocannon not yet optimised)
for (const node of NODES) {
  const ratios = Object.fromEntries(VARIANTS.map((v) => [v, { cpu: [], rps: [], us: [] }]));
  const bares = [];
  for (let rep = 0; rep < REPS; rep += 1) {
    let before = await runOnce(node, 'bare');
    bares.push(before.cpu);
    for (const variant of rep % 2 === 0 ? VARIANTS : [...VARIANTS].reverse()) {
      const run = await runOnce(node, variant);
      const after = await runOnce(node, 'bare');
      bares.push(after.cpu);
      ratios[variant].cpu.push(run.cpu / ((before.cpu + after.cpu) / 2));
      ratios[variant].rps.push(run.rps / ((before.rps + after.rps) / 2));
      ratios[variant].us.push(run.cpu);
      before = after;
    }
  }
  for (const variant of VARIANTS) {
    const r = ratios[variant];
    const row = {
      node: `${node.label} (${node.execArgv.join(' ') || 'default'})`, variant,
      bareUs: +median(bares).toFixed(1), us: +median(r.us).toFixed(1),
      cpu: `${median(r.cpu).toFixed(3)}× (${Math.min(...r.cpu).toFixed(2)}–${Math.max(...r.cpu).toFixed(2)})`,
      rps: `${median(r.rps).toFixed(3)}×`,
    };
    rows.push(row);
    process.stderr.write(`${JSON.stringify(row)} load ${load()}\n`);
  }
}
process.stdout.write(`| Node | variant | bare CPU µs/req | CPU µs/req | CPU ×bare (min–max) | req/s ×bare |\n|---|---|---|---|---|---|\n`);
for (const r of rows) process.stdout.write(`| ${r.node} | ${r.variant} | ${r.bareUs} | ${r.us} | ${r.cpu} | ${r.rps} |\n`);
process.stderr.write(`done ${new Date().toISOString()}, load ${load()}\n`);
