// npm run bench:telemetry — what do the exporters cost a service? CPU µs per request (read in
// the server) of the node:http hello service with the monitor and one exporter, as a ratio to
// the monitor alone in the runs just before and after it (bracketed, as bench/overhead does);
// then the CPU of an idle process, and the µs of one scrape. Knobs (env): BENCH_DURATION=3 BENCH_WARMUP=1 BENCH_REPS=3
// BENCH_CONNECTIONS=10 BENCH_IDLE_MS=5000 BENCH_SCRAPES=500 BENCH_SPACED_SCRAPES=5
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { envNumber, fixed, forkFixture, formatTable, median } from './overhead/lib.mjs';

const config = {
  duration: envNumber('BENCH_DURATION', 3, { min: 1 }),
  warmup: envNumber('BENCH_WARMUP', 1),
  reps: envNumber('BENCH_REPS', 3, { min: 1 }),
  connections: envNumber('BENCH_CONNECTIONS', 10, { min: 1 }),
};
const serverFile = new URL('./telemetry/server.mjs', import.meta.url);
const log = (line) => process.stderr.write(`${line}\n`);

async function runOnce(variant) {
  const fixture = forkFixture(serverFile, [variant]);
  try {
    const ready = await fixture.next('ready', 'unavailable');
    if (ready.type === 'unavailable') return { unavailable: ready.reason };
    const url = `http://127.0.0.1:${ready.port}/hello`;
    const load = (seconds) => autocannon({ url, connections: config.connections, duration: seconds, pipelining: 1 });
    if (config.warmup > 0) await load(config.warmup);
    fixture.child.send({ type: 'start' });
    await fixture.next('started');
    const result = await load(config.duration);
    fixture.child.send({ type: 'stop' });
    const window = await fixture.next('window');
    return { cpuPerRequestUs: window.cpuUs / window.requests, rps: result.requests.total / config.duration, scrapes: window.scrapes };
  } finally {
    await fixture.close();
  }
}

const exporters = ['prometheus', 'otel'];
const runs = { monitor: [], prometheus: [], otel: [] };
const ratios = { prometheus: [], otel: [] };
const skipped = new Map();
await runOnce('monitor'); // the first run of a sitting comes out slow: not recorded
for (let rep = 0; rep < config.reps; rep++) {
  const order = rep % 2 === 0 ? exporters : [...exporters].reverse();
  let before = await runOnce('monitor');
  runs.monitor.push(before);
  for (const variant of order) {
    if (skipped.has(variant)) continue;
    const run = await runOnce(variant);
    if (run.unavailable) {
      skipped.set(variant, run.unavailable);
      log(`  ${variant}: skipped — ${run.unavailable}`);
      continue;
    }
    const after = await runOnce('monitor');
    runs.monitor.push(after);
    runs[variant].push(run);
    ratios[variant].push(run.cpuPerRequestUs / ((before.cpuPerRequestUs + after.cpuPerRequestUs) / 2));
    log(`  rep ${rep + 1}: ${variant} ${fixed(run.cpuPerRequestUs)} µs/req vs monitor ${fixed(before.cpuPerRequestUs)} / ${fixed(after.cpuPerRequestUs)}`);
    before = after;
  }
}

// Idle cost: the exporters' only standing work is one more monitorEventLoopDelay timer each.
const IDLE_MS = envNumber('BENCH_IDLE_MS', 5000, { min: 1000 });
const idle = { monitor: [], prometheus: [], otel: [] };
for (let rep = 0; rep < config.reps; rep++) {
  for (const variant of ['monitor', ...exporters.filter((name) => !skipped.has(name))]) {
    const fixture = forkFixture(serverFile, [variant]);
    try {
      await fixture.next('ready');
      await new Promise((resolve) => setTimeout(resolve, 3000)); // start-up (loading, compiling the SDK) settles
      fixture.child.send({ type: 'idle', ms: IDLE_MS });
      idle[variant].push((await fixture.next('idle')).cpuMsPerSecond);
    } finally {
      await fixture.close();
    }
  }
}

const scrape = JSON.parse(execFileSync(process.execPath, [fileURLToPath(new URL('./telemetry/scrape.mjs', import.meta.url))], { encoding: 'utf8' }));
const cpuModel = os.cpus()[0]?.model ?? 'unknown';
console.log(`\nTelemetry exporters — Node ${process.version}, ${os.availableParallelism()} CPUs (${cpuModel}), ${config.reps} reps × ${config.duration} s, ${config.connections} connections\n`);
const row = (variant) => {
  if (skipped.has(variant)) return [variant, 'skipped', skipped.get(variant), '', ''];
  const all = ratios[variant];
  const range = all.length > 1 ? ` (${Math.min(...all).toFixed(3)}–${Math.max(...all).toFixed(3)})` : '';
  return [variant, fixed(median(runs[variant].map((r) => r.cpuPerRequestUs))), `${median(all).toFixed(3)}×${range}`, fixed(median(runs[variant].map((r) => r.rps)), 0), fixed(median(runs[variant].map((r) => r.scrapes)), 0)];
};
console.log(formatTable(
  ['variant', 'CPU µs/request', 'vs monitor alone (median of bracketed runs)', 'req/s', 'scrapes in window'],
  [['monitor alone', fixed(median(runs.monitor.map((r) => r.cpuPerRequestUs))), '1', fixed(median(runs.monitor.map((r) => r.rps)), 0), '0'], row('prometheus'), row('otel')],
));
console.log('');
console.log(formatTable(['idle (no load, no scrapes)', 'CPU ms per second (median)'], ['monitor', ...exporters].map((variant) => [
  variant === 'monitor' ? 'monitor alone' : `monitor + ${variant}`,
  idle[variant].length === 0 ? 'skipped' : fixed(median(idle[variant]), 2),
])));
console.log('');
console.log(formatTable(['one scrape', 'µs'], [
  ['loopguard_* (prometheusMetrics), back to back', fixed(scrape.prometheusUs)],
  ['loopguard_* (prometheusMetrics), each in a fresh window (>1 s apart, median)', fixed(scrape.prometheusFreshWindowUs)],
  ["prom-client's collectDefaultMetrics(), for comparison", fixed(scrape.defaultMetricsUs)],
  ['OTel: reader.collect() of loopguard\'s meter, back to back', scrape.otelUnavailable ? `n/a (${scrape.otelUnavailable})` : fixed(scrape.otelUs)],
  ['OTel: reader.collect(), each in a fresh window', scrape.otelUnavailable ? 'n/a' : fixed(scrape.otelFreshWindowUs)],
]));
