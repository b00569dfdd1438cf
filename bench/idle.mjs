// npm run bench:idle — what watching costs a service that serves nothing, per thread, and how soon
// a block's stack is in hand at the default threshold (issue 8 point 7, issue 9 point 4: ≤ 5 ms of
// CPU per second in all, stack ≤ threshold + 25 ms after the block starts). Linux only (/proc).
// Knobs (env): see bench/overhead/idle-threads.mjs and bench/overhead/detect-latency.mjs;
//   BENCH_IDLE_PARTS=idle,latency
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { envList, envNumber } from './overhead/lib.mjs';
import { runIdleThreads } from './overhead/idle-threads.mjs';
import { runDetectLatency } from './overhead/detect-latency.mjs';

const parts = envList('BENCH_IDLE_PARTS', ['idle', 'latency'], ['idle', 'latency']);
const log = (line) => process.stderr.write(`${line}\n`);
const cpuModel = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? os.cpus()[0]?.model;
const out = [
  `Node ${process.version}, ${os.availableParallelism()} CPUs (${cpuModel}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.platform()} ${os.release()}`,
  `load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(', ')}`,
];
if (parts.includes('idle')) {
  const { lines } = await runIdleThreads({
    rounds: envNumber('BENCH_IDLE_ROUNDS', 3, { min: 1 }),
    windowMs: envNumber('BENCH_IDLE_WINDOW', 10000, { min: 1000 }),
    warmupMs: envNumber('BENCH_IDLE_WARMUP', 12000),
    variants: envList('BENCH_IDLE_VARIANTS', ['bare', 'default', 'libuv-off'], ['bare', 'default', 'libuv-off', 'no-stacks', 'before', 'before-libuv-off']),
  }, log);
  out.push('', ...lines);
}
if (parts.includes('latency')) {
  const { lines } = await runDetectLatency({
    rounds: envNumber('BENCH_LATENCY_ROUNDS', 2, { min: 1 }),
    blocks: envNumber('BENCH_LATENCY_BLOCKS', 10, { min: 1 }),
    threshold: envNumber('BENCH_LATENCY_THRESHOLD', 100, { min: 1 }),
  }, log);
  out.push('', ...lines);
}
out.push('', `load average at end: ${os.loadavg().map((l) => l.toFixed(2)).join(', ')}`);
console.log(out.join('\n'));
