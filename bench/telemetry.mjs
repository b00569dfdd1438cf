// npm run bench:telemetry — what do the exporters cost a service? CPU µs per request of the
// server process (process.cpuUsage read in it, around a fixed number of requests driven by
// autocannon from this process) of the node:http hello service with the monitor alone and with
// each exporter, scraped every 15 s (a realistic interval) and every 1 s. One server per variant
// runs at once, so the variants take turns in many short rounds (ABC…, then …CBA), and each
// round's CPU per request is divided by that of the monitor-alone round of the same pass: the
// drift of a host over minutes falls out of the ratio. A second, identical monitor-alone server
// (A′) is measured the same way: its ratio is the noise floor a ratio must clear. The servers
// are started afresh for each block of passes, so one process's luck (its JIT, its heap layout)
// does not decide a row. Then the cost of each scrape in the loaded servers, the idle CPU, and
// one scrape in a process of its own (cold after a pause, and back to back).
//
// Knobs (env): BENCH_BLOCKS=4 BENCH_PASSES=6 BENCH_REQUESTS=100000 BENCH_CONNECTIONS=10
// BENCH_WARMUP=2 (s per server per block) BENCH_SCRAPE_MS=15000,1000
// BENCH_PARTS=load,scrape,idle BENCH_IDLE_MS=5000 BENCH_IDLE_REPS=3 BENCH_SCRAPES=500 BENCH_SPACED_SCRAPES=9
// BENCH_EXPORTERS=prometheus,sdk,otel: which exporter variants run (default all three). `sdk` is
// the OpenTelemetry SDK's MeterProvider with one gauge of the app's own and no loopguard/otel,
// collected on the same timer: what a service that exports OTel metrics already runs, so
// otel ÷ sdk is what loopguard/otel itself adds, and sdk ÷ A what the SDK costs.
// BENCH_PARTS=toggle (BENCH_TOGGLE_PROCESSES=3 BENCH_TOGGLE_ROUNDS=40 BENCH_TOGGLE_REQUESTS=20000
// BENCH_TOGGLE=monitor,self,prometheus,otel): one process
// per exporter (self: the monitor itself, stopped and started again; monitor: nothing toggled, the A/A), the exporter unregistered and installed again between rounds, on, off, off, on, …;
// each pair of neighbouring rounds gives on ÷ off. No second process and no other variant's
// rounds between the two halves of a pair: a process's own luck (its JIT, its heap layout) and the
// host's drift fall out, and what is left is the exporter's own code. Scraped at the first
// interval of BENCH_SCRAPE_MS while on (a scrape's cost per request is the scrape part's).
// BENCH_BASELINE=bare: the same harness for the monitor's own cost (issue 8 point 8) instead of
// the exporters': A and A′ are the bare service, then the monitor alone and the monitor with
// loopguard/http's wrap() (use with BENCH_PARTS=load).
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { envList, envNumber, fixed, forkFixture, formatTable, median } from './overhead/lib.mjs';

const config = {
  blocks: envNumber('BENCH_BLOCKS', 4, { min: 1 }),
  passes: envNumber('BENCH_PASSES', 6, { min: 1 }),
  requests: envNumber('BENCH_REQUESTS', 100000, { min: 1000 }),
  connections: envNumber('BENCH_CONNECTIONS', 10, { min: 1 }),
  // req/s over all connections, 0 = as fast as the server answers (see the header).
  rate: envNumber('BENCH_RATE', 0, { min: 0 }),
  warmup: envNumber('BENCH_WARMUP', 2),
  intervals: (process.env.BENCH_SCRAPE_MS ?? '15000,1000').split(',').map((raw) => {
    const ms = Number(raw);
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`BENCH_SCRAPE_MS: not a number of ms: ${JSON.stringify(raw)}`);
    return ms;
  }),
  parts: envList('BENCH_PARTS', ['load', 'toggle', 'scrape', 'idle'], ['load', 'toggle', 'scrape', 'idle']),
  toggleRounds: envNumber('BENCH_TOGGLE_ROUNDS', 40, { min: 4 }),
  toggleProcesses: envNumber('BENCH_TOGGLE_PROCESSES', 3, { min: 1 }),
  toggleRequests: envNumber('BENCH_TOGGLE_REQUESTS', 20000, { min: 1000 }),
  // monitor: the same rounds with nothing toggled, the A/A (the noise floor of a pair's ratio);
  // self: the monitor itself stopped and started again (its own cost, issue 8 point 8).
  toggle: envList('BENCH_TOGGLE', ['monitor', 'self', 'prometheus', 'otel'], ['monitor', 'self', 'prometheus', 'otel']),
  exporters: envList('BENCH_EXPORTERS', ['prometheus', 'sdk', 'otel'], ['prometheus', 'sdk', 'otel']),
};
const exporterLabel = {
  prometheus: '+ prometheusMetrics()',
  sdk: "+ the OTel SDK's MeterProvider alone (no loopguard/otel)",
  otel: '+ otelMetrics()',
};
const serverFile = new URL('./telemetry/server.mjs', import.meta.url);
const log = (line) => process.stderr.write(`${line}\n`);
const every = (ms) => (ms === 0 ? 'never scraped' : ms >= 1000 ? `scraped every ${ms / 1000} s` : `scraped every ${ms} ms`);

const bareBaseline = process.env.BENCH_BASELINE === 'bare';
const variants = bareBaseline ? [
  { key: 'A', kind: 'bare', ms: 0, label: 'bare service (A, the baseline)' },
  { key: "A'", kind: 'bare', ms: 0, label: "bare again (A′: A/A, the noise floor)" },
  { key: 'monitor', kind: 'monitor', ms: 0, label: 'startMonitor()' },
  { key: 'adapter', kind: 'adapter', ms: 0, label: "startMonitor() + loopguard/http's wrap()" },
] : [
  { key: 'A', kind: 'monitor', ms: 0, label: 'monitor alone (A, the baseline)' },
  { key: "A'", kind: 'monitor', ms: 0, label: "monitor alone again (A′: A/A, the noise floor)" },
  ...config.exporters.flatMap((kind) =>
    config.intervals.map((ms) => ({ key: `${kind}@${ms}`, kind, ms, label: `${exporterLabel[kind]}, ${every(ms)}` })),
  ),
];

/** The ratios' median and a distribution-free 95% interval for it (order statistics of a binomial). */
function medianInterval(values) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const n = sorted.length;
  // The largest k with P(Binomial(n, ½) ≤ k − 1) ≤ 0.025: [x(k), x(n+1−k)] holds the median with ≥ 95%.
  let k = 0;
  let cdf = 0;
  let term = 0.5 ** n; // P(X = 0)
  for (let j = 0; j < n; j++) {
    cdf += term;
    if (cdf > 0.025) break;
    k = j + 1;
    term = (term * (n - j)) / (j + 1);
  }
  return { median: median(sorted), low: k >= 1 ? sorted[k - 1] : NaN, high: k >= 1 ? sorted[n - k] : NaN, n };
}

async function loadPart() {
  const rounds = new Map(variants.map((v) => [v.key, []])); // { cpuPerRequestUs, rps, scrapes }
  const ratios = new Map(variants.map((v) => [v.key, []]));
  const scrapeCosts = new Map(variants.map((v) => [v.key, { cpuUs: [], wallUs: [], first: [] }]));
  const skipped = new Map();
  const overSdk = new Map(config.intervals.map((ms) => [ms, []]));
  for (let block = 0; block < config.blocks; block++) {
    const servers = [];
    try {
      for (const variant of variants) {
        if (skipped.has(variant.key)) continue;
        const fixture = forkFixture(serverFile, [variant.kind, String(variant.ms)]);
        servers.push({ variant, fixture });
        const ready = await fixture.next('ready', 'unavailable');
        if (ready.type === 'unavailable') {
          skipped.set(variant.key, ready.reason);
          servers.pop();
          await fixture.close();
          log(`  ${variant.key}: skipped — ${ready.reason}`);
          continue;
        }
        variant.url = `http://127.0.0.1:${ready.port}/hello`;
      }
      for (const { variant } of servers) {
        if (config.warmup > 0) await autocannon({ url: variant.url, connections: config.connections, duration: config.warmup });
      }
      for (let pass = 0; pass < config.passes; pass++) {
        // Rotated, a step a pass and a further step a block: over as many passes as variants
        // each server takes each place in the order once (first, after A, last, …).
        const shift = (pass + block) % servers.length;
        const order = [...servers.slice(shift), ...servers.slice(0, shift)];
        const pass_ = new Map();
        for (const { variant, fixture } of order) {
          fixture.child.send({ type: 'start', requests: config.requests });
          await fixture.next('started');
          const startedAt = performance.now();
          // sampleInt: autocannon sees that it is done only at a tick (1 s by default).
          await autocannon({ url: variant.url, connections: config.connections, amount: config.requests, sampleInt: 100, ...(config.rate > 0 ? { overallRate: config.rate } : {}) });
          const seconds = (performance.now() - startedAt) / 1000;
          fixture.child.send({ type: 'stop' });
          const window = await fixture.next('window');
          const run = { cpuPerRequestUs: window.cpuUs / window.requests, rps: window.requests / seconds, scrapes: window.scrapes, blocks: window.blocks };
          rounds.get(variant.key).push(run);
          pass_.set(variant.key, run);
        }
        const base = pass_.get('A').cpuPerRequestUs;
        for (const [key, run] of pass_) ratios.get(key).push(run.cpuPerRequestUs / base);
        // loopguard/otel over the SDK alone at the same interval, in the same pass.
        for (const ms of config.intervals) {
          const otel = pass_.get(`otel@${ms}`);
          const sdk = pass_.get(`sdk@${ms}`);
          if (otel !== undefined && sdk !== undefined) overSdk.get(ms).push(otel.cpuPerRequestUs / sdk.cpuPerRequestUs);
        }
        log(`  block ${block + 1} pass ${pass + 1}: A ${fixed(base, 2)} µs/req; ` +
          [...pass_].filter(([key]) => key !== 'A').map(([key, run]) => `${key} ${(run.cpuPerRequestUs / base).toFixed(3)}×`).join(', '));
      }
      for (const { variant, fixture } of servers) {
        if (variant.kind === 'monitor' || variant.kind === 'bare' || variant.kind === 'adapter') continue;
        fixture.child.send({ type: 'scrapes' });
        const costs = await fixture.next('scrapes');
        const into = scrapeCosts.get(variant.key);
        // The first scrape of a process compiles its code: counted apart.
        if (costs.cpuUs.length > 0) into.first.push(costs.cpuUs[0]);
        into.cpuUs.push(...costs.cpuUs.slice(1));
        into.wallUs.push(...costs.wallUs.slice(1));
      }
    } finally {
      await Promise.all(servers.map(({ fixture }) => fixture.close()));
    }
  }
  return { rounds, ratios, scrapeCosts, skipped, overSdk };
}

const load = config.parts.includes('load') ? await loadPart() : undefined;

async function togglePart() {
  const kinds = config.toggle;
  const results = new Map(kinds.map((kind) => [kind, { ratios: [], on: [], off: [], skipped: undefined }]));
  for (let block = 0; block < config.toggleProcesses; block++) {
    for (const kind of kinds) {
      const into = results.get(kind);
      if (into.skipped !== undefined) continue;
      const fixture = forkFixture(serverFile, [kind, String(config.intervals[0])]);
      try {
        const ready = await fixture.next('ready', 'unavailable');
        if (ready.type === 'unavailable') {
          into.skipped = ready.reason;
          continue;
        }
        const url = `http://127.0.0.1:${ready.port}/hello`;
        if (config.warmup > 0) await autocannon({ url, connections: config.connections, duration: config.warmup });
        const round = async (on) => {
          fixture.child.send({ type: 'exporter', on });
          await fixture.next('exporter');
          fixture.child.send({ type: 'start', requests: config.toggleRequests });
          await fixture.next('started');
          await autocannon({ url, connections: config.connections, amount: config.toggleRequests, sampleInt: 100, ...(config.rate > 0 ? { overallRate: config.rate } : {}) });
          fixture.child.send({ type: 'stop' });
          const window = await fixture.next('window');
          return window.cpuUs / window.requests;
        };
        // on, off, off, on: each pair in both orders, so a trend within the process cancels.
        for (let pair = 0; pair < config.toggleRounds / 2; pair++) {
          const first = pair % 2 === 0;
          const a = await round(first);
          const b = await round(!first);
          const [on, off] = first ? [a, b] : [b, a];
          into.on.push(on);
          into.off.push(off);
          into.ratios.push(on / off);
        }
        log(`  toggle ${kind} process ${block + 1}: on ÷ off median ${median(into.ratios.slice(-config.toggleRounds / 2)).toFixed(4)}×`);
      } finally {
        await fixture.close();
      }
    }
  }
  return results;
}

const toggle = config.parts.includes('toggle') ? await togglePart() : undefined;

// Idle cost: no load, no scrapes; the exporters' standing work is the window's feed off the heartbeat.
const IDLE_MS = envNumber('BENCH_IDLE_MS', 5000, { min: 1000 });
const IDLE_REPS = envNumber('BENCH_IDLE_REPS', 3, { min: 1 });
const idleKinds = ['monitor', 'prometheus', 'otel'].filter((kind) => !load || kind === 'monitor' || variants.some((v) => v.kind === kind && !load.skipped.has(v.key)));
const idle = new Map(idleKinds.map((kind) => [kind, []]));
if (config.parts.includes('idle')) {
  for (let rep = 0; rep < IDLE_REPS; rep++) {
    for (const kind of idleKinds) {
      const fixture = forkFixture(serverFile, [kind, '0']);
      try {
        const ready = await fixture.next('ready', 'unavailable');
        if (ready.type === 'unavailable') continue;
        await new Promise((resolve) => setTimeout(resolve, 3000)); // start-up (loading, compiling the SDK) settles
        fixture.child.send({ type: 'idle', ms: IDLE_MS });
        idle.get(kind).push((await fixture.next('idle')).cpuMsPerSecond);
      } finally {
        await fixture.close();
      }
    }
  }
}

const scrape = config.parts.includes('scrape')
  ? JSON.parse(execFileSync(process.execPath, [fileURLToPath(new URL('./telemetry/scrape.mjs', import.meta.url))], { encoding: 'utf8' }))
  : undefined;

const [load1, load5] = os.loadavg();
const cpuModel = os.cpus()[0]?.model ?? 'unknown';
console.log(`\nTelemetry exporters — Node ${process.version}, ${os.availableParallelism()} CPUs (${cpuModel}), load average ${load1.toFixed(2)} / ${load5.toFixed(2)} (1 / 5 min) at the end`);
if (load) {
  console.log(`${config.blocks} blocks × ${config.passes} passes, ${config.requests} requests per round, ${config.connections} connections; ratio = the round's CPU µs/request ÷ A's in the same pass\n`);
  const rows = variants.map((variant) => {
    if (load.skipped.has(variant.key)) return [variant.label, 'skipped', load.skipped.get(variant.key), '', ''];
    const runs = load.rounds.get(variant.key);
    const scrapes = runs.reduce((sum, run) => sum + run.scrapes, 0);
    const blocks = runs.reduce((sum, run) => sum + (run.blocks ?? 0), 0);
    const common = [fixed(median(runs.map((r) => r.rps)), 0), String(scrapes), String(blocks)];
    if (variant.key === 'A') return [variant.label, fixed(median(runs.map((r) => r.cpuPerRequestUs)), 2), '1', '', ...common];
    const { median: m, low, high, n } = medianInterval(load.ratios.get(variant.key));
    return [variant.label, fixed(median(runs.map((r) => r.cpuPerRequestUs)), 2), `${m.toFixed(4)}×`, `${low.toFixed(4)}–${high.toFixed(4)} (n ${n})`, ...common];
  });
  console.log(formatTable(['variant', 'CPU µs/request (median)', 'vs A (median of passes)', '95% interval of that median', 'req/s', 'scrapes inside rounds', 'blocks inside rounds'], rows));
  // Per block (one process per variant): the median ratio of its passes, so a process's own luck shows.
  console.log('');
  console.log(formatTable(['per block (one set of processes): median ratio to A', ...Array.from({ length: config.blocks }, (_, i) => `block ${i + 1}`)],
    variants.filter((v) => v.key !== 'A' && !load.skipped.has(v.key)).map((variant) => {
      const all = load.ratios.get(variant.key);
      return [variant.label, ...Array.from({ length: config.blocks }, (_, b) => fixed(median(all.slice(b * config.passes, (b + 1) * config.passes)), 3))];
    })));
  const sdkRows = [...load.overSdk].filter(([, values]) => values.length > 0).map(([ms, values]) => {
    const { median: m, low, high, n } = medianInterval(values);
    return [`otelMetrics() ÷ the SDK alone, ${every(ms)}`, `${m.toFixed(4)}×`, `${low.toFixed(4)}–${high.toFixed(4)} (n ${n})`];
  });
  if (sdkRows.length > 0) {
    console.log('');
    console.log(formatTable(["loopguard/otel's own cost (same pass)", 'median', '95% interval of that median'], sdkRows));
  }
  console.log('');
  const costRows = variants.filter((v) => (v.kind === 'prometheus' || v.kind === 'otel' || v.kind === 'sdk') && v.ms > 0 && !load.skipped.has(v.key)).map((variant) => {
    const costs = load.scrapeCosts.get(variant.key);
    const sorted = costs.cpuUs.slice().sort((a, b) => a - b);
    const rps = median(load.rounds.get(variant.key).map((r) => r.rps));
    const perRequest = median(costs.cpuUs) / ((rps * variant.ms) / 1000);
    const base = median(load.rounds.get('A').map((r) => r.cpuPerRequestUs));
    return [variant.label, String(sorted.length), fixed(median(sorted)), fixed(sorted[Math.floor(sorted.length * 0.9)] ?? NaN), fixed(sorted.at(-1) ?? NaN), fixed(median(costs.first)), `${fixed(perRequest, 4)} (${((perRequest / base) * 100).toFixed(3)}%)`];
  });
  console.log(formatTable(['one scrape in the loaded servers', 'scrapes', 'CPU µs (median)', 'p90', 'max', "a process's first", 'µs per request at this interval and req/s (of A)'], costRows));
}
if (toggle) {
  console.log('');
  console.log(`Toggled in one process: ${config.toggleProcesses} processes per exporter × ${config.toggleRounds} rounds of ${config.toggleRequests} requests, the exporter on and off in turn (on, off, off, on, …), ${every(config.intervals[0])} while on; ratio = a round on ÷ its neighbouring round off`);
  const toggleLabel = (kind) =>
    kind === 'monitor' ? 'monitor alone, nothing toggled (A/A: the noise floor)'
      : kind === 'self' ? 'the monitor itself (startMonitor() ÷ bare, stop() between rounds)'
        : exporterLabel[kind];
  console.log(formatTable(['exporter', 'CPU µs/request on (median)', 'off (median)', 'on ÷ off (median of pairs)', '95% interval of that median'], [...toggle].map(([kind, r]) => {
    if (r.skipped !== undefined) return [toggleLabel(kind), 'skipped', r.skipped, '', ''];
    const { median: m, low, high, n } = medianInterval(r.ratios);
    return [toggleLabel(kind), fixed(median(r.on), 2), fixed(median(r.off), 2), `${m.toFixed(4)}×`, `${low.toFixed(4)}–${high.toFixed(4)} (n ${n})`];
  })));
}
if (config.parts.includes('idle')) {
  console.log('');
  console.log(formatTable(['idle (no load, no scrapes)', `CPU ms per second (median of ${IDLE_REPS})`], idleKinds.map((kind) => [
    kind === 'monitor' ? 'monitor alone' : `monitor + ${kind}`,
    idle.get(kind).length === 0 ? 'skipped' : fixed(median(idle.get(kind)), 2),
  ])));
}
if (scrape) {
  console.log('');
  const otel = (value) => (scrape.otelUnavailable ? `n/a (${scrape.otelUnavailable})` : fixed(value));
  console.log(formatTable(['one scrape, a process of its own (CPU µs, median)', 'back to back', 'after a 1.05 s pause', 'after a 0.6 s pause (the reading reused)'], [
    ['loopguard_* (prometheusMetrics)', fixed(scrape.prometheus.backToBack), fixed(scrape.prometheus.afterPause), fixed(scrape.prometheus.afterPauseReused)],
    ["prom-client's collectDefaultMetrics(), for comparison", fixed(scrape.defaults.backToBack), fixed(scrape.defaults.afterPause), '—'],
    ["OTel: reader.collect() of loopguard's meter", otel(scrape.otel?.backToBack), otel(scrape.otel?.afterPause), otel(scrape.otel?.afterPauseReused)],
    ['the window read alone (LoopWindow.read)', fixed(scrape.window.backToBack), fixed(scrape.window.afterPause), '—'],
  ]));
}
