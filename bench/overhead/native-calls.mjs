// npm run bench:native — what does the default `nativeCalls: true` cost each blocking call?
// Times fs.statSync (a cheap sync call, so the wrapper's share is as large as it gets) bare,
// while a monitor runs with the default nativeCalls: true (wrapped), and with nativeCalls: false,
// in alternating rounds in one process. Knobs (env): BENCH_CALLS=200000 BENCH_ROUNDS=7
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { startMonitor } from '../../dist/index.js';
import { envNumber, median } from './lib.mjs';

const calls = envNumber('BENCH_CALLS', 200_000, { min: 1 });
const rounds = envNumber('BENCH_ROUNDS', 7, { min: 1 });
const target = fileURLToPath(import.meta.url);

function timeCalls() {
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) fs.statSync(target);
  return Number(process.hrtime.bigint() - started) / calls; // ns per call
}

const variants = {
  bare: () => timeCalls(),
  async wrapped() {
    const monitor = startMonitor({ log: false, stacks: false });
    try {
      return timeCalls();
    } finally {
      await monitor.stop();
    }
  },
  async 'nativeCalls: false'() {
    const monitor = startMonitor({ log: false, stacks: false, nativeCalls: false });
    try {
      return timeCalls();
    } finally {
      await monitor.stop();
    }
  },
};

const results = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
timeCalls(); // warm-up: the JIT, the file's metadata in the page cache
for (let round = 0; round < rounds; round++) {
  for (const [name, run] of Object.entries(variants)) results[name].push(await run());
}
console.log(`Node ${process.version}, ${os.availableParallelism()} CPUs (${os.cpus()[0]?.model ?? '?'}), load ${os.loadavg().map((l) => l.toFixed(2)).join(', ')}`);
console.log(`fs.statSync, ${calls} calls per round, ${rounds} alternating rounds, median ns per call`);
console.log('| variant | ns per call | extra per call |');
console.log('|---|---|---|');
const bare = median(results.bare);
for (const [name, values] of Object.entries(results)) {
  const value = median(values);
  console.log(`| ${name} | ${value.toFixed(0)} (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}) | ${name === 'bare' ? '—' : `${(value - bare).toFixed(0)} ns`} |`);
}
