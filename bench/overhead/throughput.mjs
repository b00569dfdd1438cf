// CPU per request and req/s of each service under each variant, loaded by autocannon from
// this (the driver) process. Each run: fresh server process → warm-up → measured window.
import autocannon from 'autocannon';
import { forkFixture, median } from './lib.mjs';

const serverFile = new URL('./server.mjs', import.meta.url);

function load(url, { connections, seconds }) {
  return autocannon({ url, connections, duration: seconds, pipelining: 1 });
}

async function runOnce(service, variant, config, node) {
  const fixture = forkFixture(serverFile, [service, variant], { execPath: node?.execPath, timeoutMs: 60000 });
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
    const stderr = fixture.stderr();
    const logLines = stderr.split('\n').filter((l) => l.trim() !== '').length;
    return {
      cpuPerRequestUs: window.requests > 0 ? window.cpuUs / window.requests : NaN,
      requestsPerSecond: result.requests.total / config.duration,
      served: window.requests,
      errors: result.errors + result.timeouts + result.non2xx,
      blocks: window.blocks,
      logLines,
      rss: window.rss,
      totalReports: window.totalBlocks,
      stderr: stderr.slice(0, 2000),
    };
  } finally {
    await fixture.close();
  }
}

/**
 * The run order of one repetition: every variant is bracketed by bare runs
 * (bare A bare B bare C bare), and the variant order flips on every other repetition, so each
 * variant is compared with the bare runs made just before and after it. Other processes on a
 * small shared host come and go over seconds; a ratio against neighbours cancels that drift
 * far better than a ratio of medians taken minutes apart.
 */
function schedule(variants, rep) {
  const others = variants.filter((v) => v !== 'bare');
  const order = rep % 2 === 0 ? others : [...others].reverse();
  return ['bare', ...order.flatMap((v) => [v, 'bare'])];
}

/**
 * Runs every (node, service, variant) `reps` times. Returns
 * { [node label]: { [service]: { [variant]: { runs, cpu, rps, cpuRatio, rpsRatio, ... } } } } where
 * the ratios are medians of per-run ratios to the neighbouring bare runs of the same Node and
 * service. `config.nodes` is a list of { label, execPath }: the servers run on that binary, the
 * load generator always on the driver's own Node.
 */
export async function runThroughput(config, log) {
  const results = {};
  for (const node of config.nodes) {
    results[node.label] = {};
    for (const service of config.services) {
      results[node.label][service] = {};
      for (const variant of config.variants) results[node.label][service][variant] = { runs: [], cpuRatios: [], rpsRatios: [] };
    }
  }
  // Keyed by node, service and variant: a variant may exist for one service only (shed, ctx).
  const skipped = new Map();
  // One unrecorded run first: the first run of a sitting comes out slow (autocannon in this
  // process is not yet optimised, so it offers less load and the server batches less).
  await runOnce(config.services[0], 'bare', config, config.nodes[0]);
  for (let rep = 0; rep < config.reps; rep += 1) {
    for (const node of config.nodes) {
      for (const service of config.services) {
        const sequence = [];
        const key = (variant) => `${node.label}|${service}|${variant}`;
        for (const variant of schedule(config.variants, rep)) {
          // A skipped variant leaves two bare runs side by side: one is enough.
          if (skipped.has(key(variant)) || (variant === 'bare' && sequence.at(-1)?.variant === 'bare')) continue;
          const run = await runOnce(service, variant, config, node);
          if (run.unavailable) {
            skipped.set(key(variant), run.unavailable);
            log(`  ${node.label} ${service} ${variant}: skipped — ${run.unavailable}`);
            continue;
          }
          sequence.push({ variant, run });
          results[node.label][service][variant].runs.push(run);
          log(`  rep ${rep + 1}/${config.reps} ${node.label.padEnd(8)} ${service.padEnd(14)} ${variant.padEnd(17)} ` +
            `${run.cpuPerRequestUs.toFixed(1).padStart(8)} µs/req ${Math.round(run.requestsPerSecond).toString().padStart(6)} req/s` +
            (run.errors ? ` errors=${run.errors}` : '') + (run.blocks ? ` reports=${run.blocks}` : '') +
            (run.logLines ? ` stderr-lines=${run.logLines} (${JSON.stringify(run.stderr.split('\n')[0].slice(0, 100))})` : ''));
        }
        sequence.forEach(({ variant, run }, index) => {
          if (variant === 'bare') return;
          const neighbours = [sequence[index - 1], sequence[index + 1]].filter((s) => s?.variant === 'bare').map((s) => s.run);
          if (neighbours.length === 0) return;
          const mean = (field) => neighbours.reduce((sum, r) => sum + r[field], 0) / neighbours.length;
          results[node.label][service][variant].cpuRatios.push(run.cpuPerRequestUs / mean('cpuPerRequestUs'));
          results[node.label][service][variant].rpsRatios.push(run.requestsPerSecond / mean('requestsPerSecond'));
        });
      }
    }
  }
  for (const node of config.nodes) {
    for (const service of config.services) {
      for (const variant of config.variants) {
        const entry = results[node.label][service][variant];
        const reason = skipped.get(`${node.label}|${service}|${variant}`);
        if (reason !== undefined) { entry.skipped = reason; continue; }
        const cpus = entry.runs.map((r) => r.cpuPerRequestUs);
        entry.cpu = median(cpus);
        entry.cpuMin = Math.min(...cpus);
        entry.cpuMax = Math.max(...cpus);
        entry.rps = median(entry.runs.map((r) => r.requestsPerSecond));
        entry.cpuRatio = variant === 'bare' ? 1 : median(entry.cpuRatios);
        entry.rpsRatio = variant === 'bare' ? 1 : median(entry.rpsRatios);
        entry.errors = entry.runs.reduce((sum, r) => sum + r.errors, 0);
        entry.reports = entry.runs.reduce((sum, r) => sum + r.blocks, 0);
        entry.logLines = entry.runs.reduce((sum, r) => sum + r.logLines, 0);
      }
    }
  }
  return results;
}
