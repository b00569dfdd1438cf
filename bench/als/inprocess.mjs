// In-process cost of one AsyncLocalStorage context per "request": an async function with five
// awaits and a setImmediate continuation, 10 in flight. argv: <bare|run|enter>; one variant
// per process, since on Node < 24 the first run() turns promise hooks on for good.
import { AsyncLocalStorage } from 'node:async_hooks';

const storage = new AsyncLocalStorage();
const N = Number(process.env.ALS_N ?? 200_000);
const ROUNDS = Number(process.env.ALS_ROUNDS ?? 7);

async function request() {
  let v = 0;
  for (let i = 0; i < 5; i += 1) v = await Promise.resolve(v + 1);
  await new Promise((resolve) => setImmediate(resolve));
  return v;
}
const variants = {
  bare: () => request(),
  run: () => storage.run({ method: 'GET', route: undefined }, request),
  enter: () => {
    // enterWith from a fresh async resource per request, as a listener called by an emitter is.
    storage.enterWith({ method: 'GET', route: undefined });
    return request();
  },
};

async function round(name) {
  const start = process.hrtime.bigint();
  let left = N;
  async function lane() {
    while (left-- > 0) await variants[name]();
  }
  // enterWith leaks into the lane itself: each lane is its own async chain, like a connection.
  await Promise.all(Array.from({ length: 10 }, () => lane()));
  return Number(process.hrtime.bigint() - start) / N;
}
const name = process.argv[2];
const results = [];
for (let r = 0; r < ROUNDS; r += 1) results.push(await round(name));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
process.stdout.write(JSON.stringify({ node: process.version, execArgv: process.execArgv, variant: name, nsPerRequest: +median(results).toFixed(0), min: +Math.min(...results).toFixed(0) }) + '\n');
