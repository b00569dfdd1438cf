// npm run bench:queue — jobs through loopguard/queue against the raw pg-boss and BullMQ
// clients doing the same work on the same server, in one run, with the local thread pool
// beside them (what a queue costs over a thread). Each variant gets a worker process of its
// own with the same concurrency; rounds alternate the order; the median round is reported.
// Variants: `raw` (the processor on the worker's loop), `raw sandboxed` (BullMQ's processor
// file in its worker threads, useWorkerThreads), `loopguard` (the worker's thread pool, one
// thread per concurrent job) and `loopguard inline` (`--threads 0`: on the worker's loop, tiny
// and sequential jobs only: the CPU jobs would block it). BullMQ also has `raw, same job options`
// (the raw processor, its jobs sent with the options loopguard gives every job: a priority, and
// settled jobs removed after 7 days): the raw client doing loopguard's work in Redis too.
// CPU per job is reported beside the wall-clock figures, per process (the caller: this process;
// the worker process; the server), since on a shared host the wall clock measures the neighbours.
// Usage: node bench/queue.mjs [--rounds 3] [--concurrency 4] [--jobs 1000] [--backends pg-boss,bullmq]
//   [--scenarios tiny,cpu,sequential] [--variants raw,rawopts,sandboxed,loopguard,inline,pool]
// For looking into a variant: BENCH_QUEUE_WORKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p" (node
// flags for the worker processes), BENCH_QUEUE_LOOPGUARD_WORKER=script.mjs (run instead of
// dist/cli.js, with the same arguments), BENCH_QUEUE_THREADS=1 (the worker's CPU per job by
// thread), BENCH_QUEUE_COMMANDS=1 (Redis calls per job by command, from INFO commandstats).
// bench/queue/worker-drain.mjs measures the worker's CPU per job without the caller running.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createQueue } from '../dist/queue.js';
import { rawClient } from './queue/raw-client.mjs';
import { startPostgres, startRedis, supportsPgBoss } from './queue/servers.mjs';
import { add, spin } from './queue/tasks.mjs';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '4' },
    jobs: { type: 'string', default: '1000' },
    // Which servers to run against (the local thread pool always runs): e.g. --backends bullmq.
    backends: { type: 'string', default: 'pg-boss,bullmq' },
    // Which scenarios run: tiny, cpu, sequential (e.g. --scenarios tiny,sequential for a short re-run).
    scenarios: { type: 'string', default: 'tiny,cpu,sequential' },
    // Which variants run: raw, sandboxed, loopguard (the pooled worker), inline, pool (the local thread pool).
    variants: { type: 'string', default: 'raw,rawopts,sandboxed,loopguard,inline,pool' },
  },
});
const scenarioFilter = new Set(values.scenarios.split(','));
const variantFilter = new Set(values.variants.split(','));
const variantKey = { raw: 'raw', 'raw, same job options': 'rawopts', 'raw sandboxed': 'sandboxed', loopguard: 'loopguard', 'loopguard inline': 'inline', 'thread pool': 'pool' };
const backends = new Set(values.backends.split(','));
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const jobs = Number(values.jobs);
const here = (path) => fileURLToPath(new URL(path, import.meta.url));

function percentiles(latencies) {
  const sorted = Float64Array.from(latencies).sort();
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  return { p50: at(50), p99: at(99) };
}

/**
 * CPU ms a process's threads have run so far, from /proc/<pid>/task/<tid>/schedstat (ns, so a
 * 100-job scenario is measured too; stat's clock ticks are 10 ms); undefined where there is none.
 */
function processCpu(pid) {
  if (pid === undefined) return undefined;
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // a thread that ended meanwhile
      }
    }
    return ns / 1e6;
  } catch {
    return undefined;
  }
}

/**
 * Redis's calls by command so far (`INFO commandstats`, through redis-cli), for
 * BENCH_QUEUE_COMMANDS=1: which commands and scripts a variant sends per job.
 */
function redisCommands(url) {
  const { stdout, status } = spawnSync('redis-cli', ['-u', url, 'INFO', 'commandstats'], { encoding: 'utf8' });
  if (status !== 0) return undefined;
  const calls = {};
  for (const match of stdout.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[match[1]] = Number(match[2]);
  return calls;
}

/** CPU ms by thread name (/proc/<pid>/task/<tid>/comm), for BENCH_QUEUE_THREADS=1. */
function threadCpu(pid) {
  const byName = {};
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const name = tid === String(pid) ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
        byName[name] = (byName[name] ?? 0) + Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
      } catch {
        // a thread that ended meanwhile
      }
    }
  } catch {
    // the process ended
  }
  return byName;
}

/** `count` calls at once: jobs per second, and each one's latency from enqueue to result. */
async function burst(count, call) {
  const latencies = new Float64Array(count);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const sent = performance.now();
      await call(i);
      latencies[i] = performance.now() - sent;
    }),
  );
  return { perSecond: (count / (performance.now() - started)) * 1000, ...percentiles(latencies) };
}

/** One call at a time: the round trip of an idle queue. */
async function sequential(count, call) {
  const latencies = new Float64Array(count);
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const sent = performance.now();
    await call(i);
    latencies[i] = performance.now() - sent;
  }
  return { perSecond: (count / (performance.now() - started)) * 1000, ...percentiles(latencies) };
}

/** Scenarios a variant skips: an inline worker is for jobs that do not block its loop. */
const skips = { 'loopguard inline': (scenario) => scenario.includes('CPU') };

const allScenarios = {
  tiny: [`tiny jobs (${jobs} at once)`, jobs, (call) => burst(jobs, (i) => call('add', [i, 1]))],
  cpu: [`5 ms CPU jobs (${jobs / 4} at once)`, jobs / 4, (call) => burst(jobs / 4, () => call('spin', [5]))],
  sequential: ['sequential round trip (100)', 100, (call) => sequential(100, (i) => call('add', [i, 1]))],
};
const scenarios = {}; // title → { count, run }
for (const [key, [title, count, run]] of Object.entries(allScenarios)) if (scenarioFilter.has(key)) scenarios[title] = { count, run };

function startWorker(variant, backend, url, name) {
  const raw = variant.startsWith('raw');
  const threads = variant === 'loopguard inline' ? 0 : concurrency;
  const args = raw
    ? [here('./queue/raw-worker.mjs'), backend, url, name, String(concurrency), ...(variant === 'raw sandboxed' ? ['sandboxed'] : [])]
    : [process.env.BENCH_QUEUE_LOOPGUARD_WORKER ?? here('../dist/cli.js'), 'worker', here('./queue/tasks.mjs'), '--queue', url, '--name', name, '--concurrency', String(concurrency), '--threads', String(threads)];
  // The worker's JSON job log (two lines a job) is left out: the benchmark measures the queue.
  // BENCH_QUEUE_WORKER_NODE_ARGS: node flags for the worker process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p".
  const nodeArgs = process.env.BENCH_QUEUE_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, ...args], { stdio: ['ignore', 'ignore', raw ? 'inherit' : 'ignore'] });
  return {
    pid: child.pid,
    async stop() {
      child.kill('SIGTERM');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    },
  };
}

async function client(variant, backend, url, name) {
  if (variant.startsWith('raw')) return rawClient(backend, url, name, { sameJobOptions: variant === 'raw, same job options' });
  const queue = createQueue({ url, name });
  const functions = { add, spin };
  return { call: (fn, args) => queue.run(functions[fn], args), close: () => queue.close() };
}

const servers = {};
if (!backends.has('pg-boss')) console.log('pg-boss: not run (--backends)');
else if (supportsPgBoss()) servers['pg-boss'] = await startPostgres();
else console.log(`pg-boss: skipped: needs Node ≥ 22.12 (this is ${process.version})`);
const redis = backends.has('bullmq') ? await startRedis() : undefined;
if (redis !== undefined) servers.bullmq = redis;
else if (backends.has('bullmq')) console.log('BullMQ: skipped: needs redis-server (apt-get install -y redis-server)');
else console.log('BullMQ: not run (--backends)');

const variants = [];
for (const backend of Object.keys(servers)) {
  // BullMQ has a sandboxed processor on threads; pg-boss has none.
  const kinds = backend === 'bullmq' ? ['raw', 'raw, same job options', 'raw sandboxed', 'loopguard', 'loopguard inline'] : ['raw', 'loopguard', 'loopguard inline'];
  for (const variant of kinds) if (variantFilter.has(variantKey[variant])) variants.push({ backend, variant });
}
if (variantFilter.has('pool')) variants.push({ backend: 'local', variant: 'thread pool' });

const results = {}; // `${backend} ${variant}` → scenario → [round results]
try {
  for (let round = 0; round < rounds; round++) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length]);
    for (const { backend, variant } of order) {
      const label = `${backend} ${variant}`;
      let call;
      let workerPid;
      let serverPid;
      let finish = async () => {};
      if (backend === 'local') {
        const local = { add, spin };
        call = (fn, args) => local[fn](...args);
      } else {
        const name = `bench-${variant.replace(/[^a-z]+/g, '-')}-${round}`;
        const { url } = servers[backend];
        const caller = await client(variant, backend, url, name);
        const worker = startWorker(variant, backend, url, name);
        workerPid = worker.pid;
        serverPid = servers[backend].pid;
        call = (fn, args) => caller.call(fn, args);
        finish = async () => {
          await worker.stop();
          await caller.close();
        };
      }
      await burst(50, (i) => call('add', [i, 1])); // warm up: worker connected, code loaded
      for (const [scenario, { count, run }] of Object.entries(scenarios)) {
        if (skips[variant]?.(scenario)) continue;
        const callerBefore = processCpu(process.pid);
        const workerBefore = processCpu(workerPid);
        const threadsBefore = process.env.BENCH_QUEUE_THREADS && workerPid !== undefined ? threadCpu(workerPid) : undefined;
        const serverBefore = processCpu(serverPid);
        const commandsBefore = process.env.BENCH_QUEUE_COMMANDS && backend === 'bullmq' ? redisCommands(servers.bullmq.url) : undefined;
        const result = await run(call);
        // CPU µs per job: the caller (this process, the client's work and the benchmark's own),
        // the worker process (all its threads), the server (all its processes' main one).
        const perJob = (before, after) => (before === undefined || after === undefined ? NaN : ((after - before) * 1000) / count);
        result.callerCpu = perJob(callerBefore, processCpu(process.pid));
        result.workerCpu = perJob(workerBefore, processCpu(workerPid));
        result.serverCpu = perJob(serverBefore, processCpu(serverPid));
        if (threadsBefore !== undefined) {
          const after = threadCpu(workerPid);
          const cells = Object.entries(after).map(([name, ms]) => [name, ((ms - (threadsBefore[name] ?? 0)) * 1000) / count]).filter(([, us]) => us >= 0.5);
          console.log(`${label}, ${scenario}, round ${round}: worker CPU µs/job by thread: ${cells.map(([n, us]) => `${n} ${us.toFixed(0)}`).join(', ')}`);
        }
        if (commandsBefore !== undefined) {
          const after = redisCommands(servers.bullmq.url) ?? {};
          const perJobCalls = Object.entries(after)
            .map(([command, calls]) => [command, (calls - (commandsBefore[command] ?? 0)) / count])
            .filter(([, calls]) => calls > 0)
            .sort((a, b) => b[1] - a[1]);
          console.log(`${label}, ${scenario}, round ${round}: Redis calls per job: ${perJobCalls.map(([c, n]) => `${c} ${n.toFixed(2)}`).join(', ')}`);
        }
        ((results[label] ??= {})[scenario] ??= []).push(result);
      }
      await finish();
    }
  }
} finally {
  for (const server of Object.values(servers)) await server.stop();
}

const median = (list, key) => list.map((entry) => entry[key]).sort((a, b) => a - b)[Math.floor(list.length / 2)];
const cpuCell = (n) => (Number.isNaN(n) ? '' : format(n));
const format = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

console.log('# loopguard queue benchmark');
console.log(
  `Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} (availableParallelism ${availableParallelism()}); ` +
    `one worker process per variant, concurrency ${concurrency}; median of ${rounds} alternated rounds\n`,
);
for (const scenario of Object.keys(scenarios)) {
  console.log(`## ${scenario}\n`);
  console.log('| variant | jobs/s | p50 ms | p99 ms | jobs/s vs raw | p50 vs raw | p99 vs raw | CPU µs/job: caller | worker | server |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const { backend, variant } of variants) {
    const list = results[`${backend} ${variant}`]?.[scenario];
    if (list === undefined) continue;
    const raw = results[`${backend} raw`]?.[scenario];
    const ratio = (key) => (raw === undefined || variant === 'raw' ? '' : `${format(median(list, key) / median(raw, key), 2)}×`);
    console.log(
      `| ${backend} ${variant} | ${format(median(list, 'perSecond'))} | ${format(median(list, 'p50'), 1)} | ${format(median(list, 'p99'), 1)} | ` +
        `${ratio('perSecond')} | ${ratio('p50')} | ${ratio('p99')} | ` +
        `${cpuCell(median(list, 'callerCpu'))} | ${cpuCell(median(list, 'workerCpu'))} | ${cpuCell(median(list, 'serverCpu'))} |`,
    );
  }
  // The same work in Redis: inline jobs against the raw processor sending loopguard's job options.
  const inline = results['bullmq loopguard inline']?.[scenario];
  const rawSame = results['bullmq raw, same job options']?.[scenario];
  if (inline !== undefined && rawSame !== undefined) {
    const vs = (key) => `${format(median(inline, key) / median(rawSame, key), 2)}×`;
    console.log(`\nBullMQ loopguard inline vs raw with the same job options: ${vs('perSecond')} jobs/s, ${vs('p50')} p50, ${vs('p99')} p99`);
  }
  // Like for like: the worker's thread pool against BullMQ's own worker threads.
  const pooled = results['bullmq loopguard']?.[scenario];
  const sandboxed = results['bullmq raw sandboxed']?.[scenario];
  if (pooled !== undefined && sandboxed !== undefined) {
    const vs = (key) => `${format(median(pooled, key) / median(sandboxed, key), 2)}×`;
    console.log(`\nBullMQ loopguard (threads) vs raw sandboxed: ${vs('perSecond')} jobs/s, ${vs('p50')} p50, ${vs('p99')} p99`);
  }
  console.log('');
}
