// npm run bench:pool — loopguard's thread pool against piscina, tinypool and workerpool at
// the same thread count, in one run, alternated (each round runs the pools in a rotated
// order), reporting the median round. Usage: node bench/pool.mjs [--threads 2] [--rounds 3]
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { pools } from './pool/adapters.mjs';

const { values } = parseArgs({
  options: { threads: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' } },
});
const threads = Number(values.threads);
const rounds = Number(values.rounds);
const names = Object.keys(pools);
const MiB = 1024 * 1024;

/** Submit `count` tasks at once; throughput and per-task latency (submit → settle). */
async function burst(pool, count, makeCall) {
  const latencies = new Float64Array(count);
  const started = performance.now();
  const pending = new Array(count);
  for (let i = 0; i < count; i++) {
    const submitted = performance.now();
    pending[i] = makeCall(i).then(() => (latencies[i] = performance.now() - submitted));
  }
  await Promise.all(pending);
  const elapsed = performance.now() - started;
  return { perSecond: (count / elapsed) * 1000, ...percentiles(latencies) };
}

/** One task at a time: the round trip of an idle pool. */
async function sequential(pool, count) {
  const latencies = new Float64Array(count);
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const submitted = performance.now();
    await pool.call('add', [i, 1]);
    latencies[i] = performance.now() - submitted;
  }
  return { perSecond: (count / (performance.now() - started)) * 1000, ...percentiles(latencies) };
}

function percentiles(latencies) {
  const sorted = Float64Array.from(latencies).sort();
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  return { p50: at(50), p99: at(99) };
}

const scenarios = {
  'tiny tasks (20,000 at once)': (pool) => burst(pool, 20_000, (i) => pool.call('add', [i, 1])),
  '~1 ms CPU tasks (2,000)': (pool) => burst(pool, 2_000, () => pool.call('spin', [1])),
  '1 MiB ArrayBuffer, copied (500)': (pool) => burst(pool, 500, () => pool.call('byteLength', [new ArrayBuffer(MiB)])),
  '1 MiB ArrayBuffer, transferred (500)': (pool) =>
    burst(pool, 500, () => {
      const buffer = new ArrayBuffer(MiB);
      return pool.call('byteLength', [buffer], [buffer]);
    }),
  'sequential round trip (2,000)': (pool) => sequential(pool, 2_000),
};

const results = {}; // scenario → pool → [round results]
for (let round = 0; round < rounds; round++) {
  const order = names.map((_, i) => names[(i + round) % names.length]);
  for (const name of order) {
    const pool = await pools[name](threads);
    await burst(pool, 500, (i) => pool.call('add', [i, 1])); // warm up: threads started, code loaded
    for (const [scenario, run] of Object.entries(scenarios)) {
      ((results[scenario] ??= {})[name] ??= []).push(await run(pool));
    }
    await pool.close();
  }
}

const median = (list, key) => list.map((entry) => entry[key]).sort((a, b) => a - b)[Math.floor(list.length / 2)];
const format = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

console.log(`# loopguard pool benchmark`);
console.log(
  `Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} (availableParallelism ${availableParallelism()}), ` +
    `${threads} threads per pool, median of ${rounds} alternated rounds\n`,
);
for (const [scenario, byPool] of Object.entries(results)) {
  console.log(`## ${scenario}`);
  console.log('| pool | tasks/s | × piscina | p50 ms | p99 ms | p50 vs piscina |');
  console.log('|---|---:|---:|---:|---:|---:|');
  const base = { perSecond: median(byPool.piscina, 'perSecond'), p50: median(byPool.piscina, 'p50') };
  for (const name of names) {
    const perSecond = median(byPool[name], 'perSecond');
    const p50 = median(byPool[name], 'p50');
    const p99 = median(byPool[name], 'p99');
    console.log(
      `| ${name} | ${format(perSecond)} | ${format(perSecond / base.perSecond, 2)}× | ${format(p50, 3)} | ${format(p99, 3)} | ${format(p50 / base.p50, 2)}× |`,
    );
  }
  console.log('');
}
