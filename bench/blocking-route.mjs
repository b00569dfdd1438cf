// npm run bench:blocking — a route that blocks 150 ms on every request (issue 8 point 8): req/s
// with the monitor against the bare service, in one run, on the machine as it is and with a
// CPU hog (a process spinning on one core) beside the service. Target: ≥ 0.97× bare.
// Variants: bare; loopguard with the service's adapter (the quick stack names the request: no
// debugger); loopguard without it (each block's request walk enables the debugger and pauses).
// Each rep runs bare, the others, bare again (order flipped every other rep); a variant's ratio
// is to the mean of the bare runs around it, and the table gives the median of those ratios.
// Knobs (env): BENCH_BLOCK_SECONDS=10 BENCH_BLOCK_REPS=3 BENCH_BLOCK_CONNECTIONS=2
//   BENCH_BLOCK_SERVICES=http,express BENCH_BLOCK_LOADS=quiet,hog BENCH_JSON=out.json
import os from 'node:os';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { envList, envNumber, fixed, forkFixture, formatTable, median } from './overhead/lib.mjs';

const config = {
  seconds: envNumber('BENCH_BLOCK_SECONDS', 10, { min: 1 }),
  reps: envNumber('BENCH_BLOCK_REPS', 3, { min: 1 }),
  connections: envNumber('BENCH_BLOCK_CONNECTIONS', 2, { min: 1 }),
  services: envList('BENCH_BLOCK_SERVICES', ['http', 'express'], ['http', 'express']),
  loads: envList('BENCH_BLOCK_LOADS', ['quiet', 'hog'], ['quiet', 'hog']),
};
const VARIANTS = ['loopguard', 'loopguard-noadapter'];
const serverFile = new URL('./blocking-route/server.mjs', import.meta.url);
const log = (line) => process.stderr.write(`${line}\n`);

function startHog() {
  // A CPU hog in its own process, as another tenant's busy service would be.
  const hog = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  return () => hog.kill('SIGKILL');
}

async function runOnce(service, variant) {
  const fixture = forkFixture(serverFile, [service, variant], { timeoutMs: 60_000 });
  try {
    const { port } = await fixture.next('ready');
    const url = `http://127.0.0.1:${port}/cart/7`;
    // Warm up: the first requests compile the route, and the monitor's first capture is its dearest.
    await autocannon({ url, connections: 1, amount: 4 });
    const result = await autocannon({ url, connections: config.connections, duration: config.seconds });
    fixture.child.send({ type: 'stop' });
    const window = await fixture.next('window');
    return {
      requestsPerSecond: result.requests.total / config.seconds,
      errors: result.errors + result.timeouts + result.non2xx,
      blocks: window.blocks,
      served: window.requests,
      cpuMsPerRequest: window.requests > 0 ? window.cpuUs / 1000 / window.requests : NaN,
    };
  } finally {
    await fixture.close();
  }
}

const started = Date.now();
const loadBefore = os.loadavg();
const raw = { config, node: process.version, loadBefore, runs: [] };
const out = [
  `Node ${process.version}, ${os.availableParallelism()} CPUs (${os.cpus()[0]?.model}), ${os.platform()} ${os.release()}, ${new Date().toISOString()}`,
  `load average at start: ${loadBefore.map((l) => l.toFixed(2)).join(', ')}`,
];
const rows = [];
for (const load of config.loads) {
  const stopHog = load === 'hog' ? startHog() : () => undefined;
  try {
    for (const service of config.services) {
      const ratios = Object.fromEntries(VARIANTS.map((v) => [v, []]));
      const perVariant = Object.fromEntries(['bare', ...VARIANTS].map((v) => [v, []]));
      for (let rep = 0; rep < config.reps; rep += 1) {
        const order = rep % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
        const sequence = ['bare', ...order.flatMap((v) => [v, 'bare'])];
        const results = [];
        for (const variant of sequence) {
          const result = await runOnce(service, variant);
          results.push({ variant, ...result });
          perVariant[variant].push(result);
          raw.runs.push({ load, service, rep, variant, ...result });
          log(`  ${load} ${service} rep ${rep + 1} ${variant}: ${result.requestsPerSecond.toFixed(2)} req/s, ${result.blocks ?? 0} blocks, ${result.errors} errors`);
        }
        for (let i = 1; i < results.length; i += 2) {
          const bareAround = (results[i - 1].requestsPerSecond + results[i + 1].requestsPerSecond) / 2;
          ratios[results[i].variant].push(results[i].requestsPerSecond / bareAround);
        }
      }
      const bareRps = median(perVariant.bare.map((r) => r.requestsPerSecond));
      rows.push([load, service, 'bare', fixed(bareRps), '1.00', '', fixed(median(perVariant.bare.map((r) => r.cpuMsPerRequest)))]);
      for (const variant of VARIANTS) {
        const all = ratios[variant];
        rows.push([
          load,
          service,
          variant === 'loopguard' ? 'loopguard + adapter' : 'loopguard, no adapter (walk)',
          fixed(median(perVariant[variant].map((r) => r.requestsPerSecond))),
          `${median(all).toFixed(3)}× (${Math.min(...all).toFixed(3)}–${Math.max(...all).toFixed(3)})`,
          String(median(perVariant[variant].map((r) => r.blocks))),
          fixed(median(perVariant[variant].map((r) => r.cpuMsPerRequest))),
        ]);
      }
    }
  } finally {
    stopHog();
  }
}
out.push('', `A route that blocks 150 ms per request: ${config.reps} reps × ${config.seconds} s per variant, ${config.connections} connections`);
out.push(formatTable(['load', 'service', 'variant', 'req/s (median)', 'ratio to bare (median, range)', 'blocks per run', 'CPU ms/request'], rows));
out.push('"hog": a process spinning on one core beside the service for the whole section. Ratios are to the mean of the two bare',
  'runs around each run. "blocks per run": block events the monitor emitted in the measured window.');
const loadAfter = os.loadavg();
raw.loadAfter = loadAfter;
out.push('', `load average at end: ${loadAfter.map((l) => l.toFixed(2)).join(', ')}; total ${Math.round((Date.now() - started) / 1000)} s`);
process.stdout.write(`${out.join('\n')}\n`);
if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(raw, null, 2));
