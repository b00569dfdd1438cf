// npm run bench:startstop — does starting and stopping the monitor leak memory?
// Each variant runs in a fresh process (with --expose-gc): a warm-up of cycles, a GC and an RSS
// reading, then BENCH_CYCLES more cycles, a GC and a second reading. The growth is compared with
// what Node itself costs for the same cycles:
//   histogram  monitorEventLoopDelay() enable/disable (what the monitor's delay sampler uses)
//   worker     an empty worker thread started and terminated (the monitor starts its watchdog)
//   loopguard  startMonitor(), await ready (the watchdog is up), stop()
// Knobs (env): BENCH_CYCLES=1000 BENCH_WARMUP_CYCLES=50 BENCH_REPS=3 BENCH_VARIANTS=histogram,worker,loopguard
import { execFileSync, fork } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { envList, envNumber, median } from './lib.mjs';

const self = fileURLToPath(import.meta.url);
const VARIANTS = ['histogram', 'worker', 'loopguard'];

async function child(variant, cycles, warmup) {
  const { monitorEventLoopDelay } = await import('node:perf_hooks');
  const { Worker } = await import('node:worker_threads');
  const { startMonitor } = await import('../../dist/index.js');
  const cycle = {
    async histogram() {
      const histogram = monitorEventLoopDelay({ resolution: 20 });
      histogram.enable();
      await new Promise((resolve) => setImmediate(resolve));
      histogram.disable();
    },
    async worker() {
      const worker = new Worker('setInterval(() => {}, 1000)', { eval: true, execArgv: [], env: {} });
      await once(worker, 'online');
      await worker.terminate();
    },
    async loopguard() {
      const monitor = startMonitor({ log: false });
      await monitor.ready;
      await monitor.stop();
    },
  }[variant];
  // The monitor keeps nothing alive, and `await monitor.ready` alone would let the process exit.
  const keepAlive = setInterval(() => {}, 1000);
  // Collect, then let the loop turn: handles freed by a collection close on a later turn.
  const reading = async () => {
    for (let i = 0; i < 3; i++) {
      globalThis.gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const { rss, heapUsed, external } = process.memoryUsage();
    return { rss, heapUsed, external };
  };
  for (let i = 0; i < warmup; i++) await cycle();
  const before = await reading();
  const started = performance.now();
  for (let i = 0; i < cycles; i++) await cycle();
  const ms = performance.now() - started;
  const after = await reading();
  clearInterval(keepAlive);
  process.send({ before, after, ms });
}

async function measure(variant, cycles, warmup) {
  const worker = fork(self, ['--child', variant, String(cycles), String(warmup)], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [message] = await once(worker, 'message');
  await once(worker, 'exit');
  return message;
}

if (process.argv[2] === '--child') {
  await child(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
} else {
  const cycles = envNumber('BENCH_CYCLES', 1000, { min: 1 });
  const warmup = envNumber('BENCH_WARMUP_CYCLES', 50);
  const reps = envNumber('BENCH_REPS', 3, { min: 1 });
  const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
  let cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  try {
    cpu = execFileSync('sh', ['-c', "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], { encoding: 'utf8' }).trim() || cpu;
  } catch {
    // not Linux
  }
  console.log(`Node ${process.version}, ${os.availableParallelism()} CPUs (${cpu}), load ${os.loadavg().map((l) => l.toFixed(2)).join(', ')}`);
  console.log(`${cycles} cycles after ${warmup} warm-up cycles, ${reps} runs each (fresh process per run), RSS and heap after gc()`);
  console.log('| variant | RSS growth (MiB, median; runs) | heap growth (MiB) | ms per cycle |');
  console.log('|---|---|---|---|');
  for (const variant of envList('BENCH_VARIANTS', VARIANTS, VARIANTS)) {
    const runs = [];
    for (let i = 0; i < reps; i++) runs.push(await measure(variant, cycles, warmup));
    const rss = runs.map((run) => run.after.rss - run.before.rss);
    const heap = runs.map((run) => run.after.heapUsed - run.before.heapUsed);
    const perCycle = runs.map((run) => run.ms / cycles);
    console.log(
      `| ${variant} | ${mib(median(rss))} (${rss.map(mib).join(', ')}) | ${mib(median(heap))} | ${median(perCycle).toFixed(2)} |`,
    );
  }
}
