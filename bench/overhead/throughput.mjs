// CPU per request and req/s of each service under each variant, loaded by autocannon from
// this (the driver) process. Each run: fresh server process → warm-up → measured window.
import autocannon from 'autocannon';
import { forkFixture, median } from './lib.mjs';

const serverFile = new URL('./server.mjs', import.meta.url);

function load(url, { connections, seconds }) {
  return autocannon({ url, connections, duration: seconds, pipelining: 1 });
}

async function runOnce(service, variant, config) {
  const fixture = forkFixture(serverFile, [service, variant]);
  try {
    const ready = await fixture.next('ready', 'unavailable');
    if (ready.type === 'unavailable') return { unavailable: ready.reason };
    const url = `http://127.0.0.1:${ready.port}/hello`;
    if (config.warmup > 0) await load(url, { connections: config.connections, seconds: config.warmup });
    fixture.child.send({ type: 'start' });
    await fixture.next('started');
    const result = await load(url, { connections: config.connections, seconds: config.duration });
    fixture.child.send({ type: 'stop' });
    const window = await fixture.next('window');
    const logLines = fixture.stderr().split('\n').filter((l) => l.trim() !== '').length;
    return {
      cpuPerRequestUs: window.requests > 0 ? window.cpuUs / window.requests : NaN,
      requestsPerSecond: result.requests.total / config.duration,
      served: window.requests,
      errors: result.errors + result.timeouts + result.non2xx,
      blocks: window.blocks,
      logLines,
      rss: window.rss,
    };
  } finally {
    await fixture.close();
  }
}

/**
 * Runs every (service, variant) `reps` times. Within a repetition the variant order flips
 * (A B C D, then D C B A, ...) so that slow drift of the host's load does not favour one
 * variant. Returns { [service]: { [variant]: { runs: [...], cpu, rps, ... } } }.
 */
export async function runThroughput(config, log) {
  const results = {};
  for (const service of config.services) {
    results[service] = {};
    for (const variant of config.variants) results[service][variant] = { runs: [] };
  }
  const skipped = new Map();
  for (let rep = 0; rep < config.reps; rep += 1) {
    for (const service of config.services) {
      const order = rep % 2 === 0 ? config.variants : [...config.variants].reverse();
      for (const variant of order) {
        if (skipped.has(variant)) continue;
        const run = await runOnce(service, variant, config);
        if (run.unavailable) {
          skipped.set(variant, run.unavailable);
          log(`  ${variant}: skipped — ${run.unavailable}`);
          continue;
        }
        results[service][variant].runs.push(run);
        log(`  rep ${rep + 1}/${config.reps} ${service.padEnd(7)} ${variant.padEnd(13)} ` +
          `${run.cpuPerRequestUs.toFixed(1).padStart(8)} µs/req ${Math.round(run.requestsPerSecond).toString().padStart(6)} req/s` +
          (run.errors ? ` errors=${run.errors}` : '') + (run.blocks ? ` reports=${run.blocks}` : '') +
          (run.logLines ? ` stderr-lines=${run.logLines}` : ''));
      }
    }
  }
  for (const service of config.services) {
    for (const variant of config.variants) {
      const entry = results[service][variant];
      if (skipped.has(variant)) { entry.skipped = skipped.get(variant); continue; }
      const cpus = entry.runs.map((r) => r.cpuPerRequestUs);
      entry.cpu = median(cpus);
      entry.cpuMin = Math.min(...cpus);
      entry.cpuMax = Math.max(...cpus);
      entry.rps = median(entry.runs.map((r) => r.requestsPerSecond));
      entry.errors = entry.runs.reduce((sum, r) => sum + r.errors, 0);
      entry.reports = entry.runs.reduce((sum, r) => sum + r.blocks, 0);
      entry.logLines = entry.runs.reduce((sum, r) => sum + r.logLines, 0);
    }
  }
  return results;
}
