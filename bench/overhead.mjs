// npm run bench:overhead — what does watching the event loop cost a service?
// Prints, per service, CPU µs per request (measured inside the server) and req/s (autocannon)
// for each variant as ratios to the bare service; then the watchdog's RSS cost and how long
// after a block starts its stack is captured. Knobs (env):
//   BENCH_DURATION=3 BENCH_WARMUP=1 BENCH_REPS=3 BENCH_CONNECTIONS=10
//   BENCH_SERVICES=http,fastify BENCH_VARIANTS=bare,loopguard,... BENCH_PARTS=throughput,rss,capture
//   BENCH_RSS_REPS=5 BENCH_CAPTURE_BLOCKS=5 BENCH_CAPTURE_ROUNDS=3 BENCH_JSON=out.json (raw results)
import os from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { VARIANTS, VARIANT_NOTES } from './overhead/variants.mjs';
import { envList, envNumber, fixed, formatTable } from './overhead/lib.mjs';
import { runThroughput } from './overhead/throughput.mjs';
import { runRss, runCapture } from './overhead/memory-and-capture.mjs';

const config = {
  duration: envNumber('BENCH_DURATION', 3, { min: 1 }),
  warmup: envNumber('BENCH_WARMUP', 1),
  reps: envNumber('BENCH_REPS', 3, { min: 1 }),
  connections: envNumber('BENCH_CONNECTIONS', 10, { min: 1 }),
  services: envList('BENCH_SERVICES', ['http', 'fastify'], ['http', 'fastify']),
  variants: envList('BENCH_VARIANTS', VARIANTS, VARIANTS),
  parts: envList('BENCH_PARTS', ['throughput', 'rss', 'capture'], ['throughput', 'rss', 'capture']),
  rssReps: envNumber('BENCH_RSS_REPS', 5, { min: 1 }),
  captureBlocks: envNumber('BENCH_CAPTURE_BLOCKS', 5, { min: 1 }),
  captureRounds: envNumber('BENCH_CAPTURE_ROUNDS', 3, { min: 1 }),
};
if (!config.variants.includes('bare')) config.variants.unshift('bare');

const times = (value, all) => (Number.isFinite(value)
  ? `${value.toFixed(2)}×${all?.length > 1 ? ` (${Math.min(...all).toFixed(2)}–${Math.max(...all).toFixed(2)})` : ''}`
  : 'n/a');
const log = (line) => process.stderr.write(`${line}\n`);

function machine() {
  const cpuModel = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? os.cpus()[0]?.model;
  return {
    node: process.version,
    cpus: os.availableParallelism(),
    cpuModel,
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    platform: `${os.platform()} ${os.release()}`,
  };
}

const host = machine();
const loadBefore = os.loadavg();
const started = Date.now();
const raw = { config, host, loadBefore };
const out = [];
out.push(`Node ${host.node}, ${host.cpus} CPUs (${host.cpuModel}), ${host.memoryGiB} GiB, ${host.platform}`);
out.push(`load average at start: ${loadBefore.map((l) => l.toFixed(2)).join(', ')}`);

if (config.parts.includes('throughput')) {
  log(`throughput: ${config.services.join(', ')} × ${config.variants.join(', ')}; ${config.reps} reps of ` +
    `${config.warmup}s warm-up + ${config.duration}s at ${config.connections} connections, each variant between two bare runs`);
  const results = await runThroughput(config, log);
  raw.throughput = results;
  for (const service of config.services) {
    const bare = results[service].bare;
    const rows = config.variants.map((variant) => {
      const entry = results[service][variant];
      if (entry.skipped) return [variant, 'skipped', '', '', '', ''];
      return [
        variant,
        `${fixed(entry.cpu)} (${fixed(entry.cpuMin)}–${fixed(entry.cpuMax)})`,
        times(entry.cpuRatio, entry.cpuRatios),
        Math.round(entry.rps),
        times(entry.rpsRatio, entry.rpsRatios),
        [entry.reports && `${entry.reports} reports`, entry.logLines && `${entry.logLines} stderr lines`, entry.errors && `${entry.errors} errors`]
          .filter(Boolean).join(', '),
      ];
    });
    out.push('', `${service === 'http' ? 'node:http' : 'Fastify 5'} — CPU µs per request (median, min–max) and req/s (median) of ${bare.runs.length} bare / ${config.reps} variant runs;`,
      'ratios: median of each run against the mean of the bare runs just before and after it (min–max in brackets)');
    out.push(formatTable(['variant', 'CPU µs/req', 'CPU ×bare', 'req/s', 'req/s ×bare', 'notes'], rows));
  }
  out.push('', ...config.variants.map((v) => `- ${v}: ${VARIANT_NOTES[v]}`));
}

if (config.parts.includes('rss')) {
  log(`rss: idle processes, ${config.rssReps} alternated runs per variant`);
  const rss = await runRss(config, log);
  raw.rss = rss;
  out.push('', `Idle processes: RSS after settling and a full GC, then CPU over 3 s of doing nothing (median of ${config.rssReps} processes)`);
  out.push(formatTable(['variant', 'RSS MiB', 'Δ vs bare MiB', 'idle CPU ms/s', 'Δ vs bare ms/s'], rss.rows.map((row) =>
    row.skipped
      ? [row.variant, 'skipped', '', '', '']
      : [row.variant, fixed(row.rss / 2 ** 20), fixed((row.rss - rss.bare) / 2 ** 20), fixed(row.idleCpuMsPerS), fixed(row.idleCpuMsPerS - rss.bareIdleCpu)])));
}

if (config.parts.includes('capture')) {
  log(`capture: ${config.captureRounds} rounds of ${config.captureBlocks} blocks of 500 ms at threshold 50 ms, bare, loopguard with a known context and without`);
  const capture = await runCapture(config, log);
  raw.capture = capture;
  out.push('', ...capture.lines);
}

const loadAfter = os.loadavg();
raw.loadAfter = loadAfter;
out.push('', `load average at end: ${loadAfter.map((l) => l.toFixed(2)).join(', ')}; total ${Math.round((Date.now() - started) / 1000)} s`);
process.stdout.write(`${out.join('\n')}\n`);
if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(raw, null, 2));
