// npm run bench:idle — what an idle service pays, per thread, to be watched.
// Each variant runs in its own idle process (a 1 s keep-alive interval, nothing else), alternating,
// and reads every thread's own CPU time over an idle window from /proc/self/task/<tid>/schedstat
// (ns; utime+stime ticks from .../stat where schedstat is missing) and its voluntary context
// switches (each one a sleep the thread woke from: its wake-ups). The watchdog is the thread that
// appears while the monitor starts; "other" is everything else (V8's platform workers, libuv's
// thread pool, which the libuv probe uses once a second). Linux only.
// The window opens 12 s after start: V8's memory reducer runs its idle-time collections about 8 s
// after start-up's allocations (incremental marking in tasks that wake the main thread and V8's
// worker threads: +2–3 ms/s in a window opened at 1.5 s, measured here), which is start-up, not
// what an idle service pays by the hour.
// Knobs (env): BENCH_IDLE_ROUNDS=3 BENCH_IDLE_WINDOW=10000 BENCH_IDLE_WARMUP=12000 (ms)
//   BENCH_IDLE_VARIANTS=bare,default,libuv-off
//   BENCH_LOOPGUARD_MODULE=/abs/dist/index.js (another build, see variants.mjs)
//   BENCH_IDLE_BEFORE=/abs/dist/index.js: variants 'before' and 'before-libuv-off' run that build
import { readdirSync, readFileSync } from 'node:fs';
import { randomFill } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { envList, envNumber, fixed, forkFixture, formatTable, median } from './lib.mjs';
import { loadLoopguard } from './variants.mjs';

const VARIANTS = {
  bare: undefined,
  default: { log: false },
  'libuv-off': { log: false, libuv: false },
  'no-stacks': { log: false, stacks: false },
  // The build at BENCH_IDLE_BEFORE (an absolute path to another build's dist/index.js), default
  // options: before and after in one run, alternated with the rest.
  before: { log: false },
  'before-libuv-off': { log: false, libuv: false },
};
const loadBuild = (variant) =>
  variant.startsWith('before') ? import(pathToFileURL(process.env.BENCH_IDLE_BEFORE ?? '').href) : loadLoopguard();

function threads() {
  const out = new Map();
  for (const tid of readdirSync('/proc/self/task')) {
    const base = `/proc/self/task/${tid}`;
    let ns;
    try {
      ns = Number(readFileSync(`${base}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      const fields = readFileSync(`${base}/stat`, 'utf8').split(') ')[1].split(' ');
      ns = (Number(fields[11]) + Number(fields[12])) * 1e7;
    }
    const status = readFileSync(`${base}/status`, 'utf8');
    const wakeups = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    out.set(tid, { ns, wakeups });
  }
  return out;
}

async function child(variant, windowMs, warmupMs) {
  const keepAlive = setInterval(() => {}, 1000);
  // Start libuv's pool now, so its threads are not taken for the watchdog's.
  await new Promise((resolve) => randomFill(Buffer.alloc(1), resolve));
  const before = new Set(threads().keys());
  let monitor;
  if (VARIANTS[variant] !== undefined) {
    const { startMonitor } = await loadBuild(variant);
    monitor = startMonitor(VARIANTS[variant]);
    await monitor.ready;
  }
  await sleep(warmupMs); // the watchdog started, the memory reducer done, the heap settled
  globalThis.gc?.();
  await sleep(300);
  const watchdog = [...threads().keys()].filter((tid) => !before.has(tid));
  // Stacks the watchdog took in the window (its stack expression calls this reader, see
  // detect-latency.mjs): an idle process should have none.
  let stacksTaken = 0;
  globalThis[Symbol.for('loopguard.v1.readActiveSpan')] = () => {
    stacksTaken += 1;
    return undefined;
  };
  const main = String(process.pid);
  const start = threads();
  const cpuStart = process.cpuUsage();
  const t0 = performance.now();
  await sleep(windowMs);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const end = threads();
  const rate = (pick) => {
    let ns = 0;
    let wakeups = 0;
    for (const [tid, now] of end) {
      const was = start.get(tid);
      if (was === undefined || !pick(tid)) continue;
      ns += now.ns - was.ns;
      wakeups += now.wakeups - was.wakeups;
    }
    return { msPerS: ns / 1e6 / seconds, wakeupsPerS: wakeups / seconds };
  };
  process.send({
    type: 'idle',
    main: rate((tid) => tid === main),
    watchdog: rate((tid) => watchdog.includes(tid)),
    other: rate((tid) => tid !== main && !watchdog.includes(tid)),
    all: rate(() => true),
    cpuUsageMsPerS: (cpu.user + cpu.system) / 1000 / seconds,
    rssMiB: process.memoryUsage().rss / 2 ** 20,
    watchdogThreads: watchdog.length,
    stacksTaken,
    blocks: monitor?.stats().blocks.count ?? 0,
    libuv: monitor?.stats().libuv ?? null,
  });
  clearInterval(keepAlive);
  await monitor?.stop();
  process.disconnect();
}

export async function runIdleThreads(config, log) {
  const self = fileURLToPath(import.meta.url);
  const samples = Object.fromEntries(config.variants.map((v) => [v, []]));
  for (let round = 0; round < config.rounds; round += 1) {
    const order = round % 2 === 0 ? config.variants : [...config.variants].reverse();
    for (const variant of order) {
      const fixture = forkFixture(self, ['child', variant, String(config.windowMs), String(config.warmupMs)], {
        execArgv: ['--expose-gc'],
        timeoutMs: config.windowMs + config.warmupMs + 30000,
      });
      try {
        const message = await fixture.next('idle');
        samples[variant].push(message);
        log(`  round ${round + 1} ${variant}: main ${fixed(message.main.msPerS, 2)} + watchdog ${fixed(message.watchdog.msPerS, 2)} + other ${fixed(message.other.msPerS, 2)} ms/s; ` +
          `wake-ups/s main ${fixed(message.main.wakeupsPerS)} watchdog ${fixed(message.watchdog.wakeupsPerS)}; stacks taken ${message.stacksTaken}, blocks ${message.blocks}`);
      } finally {
        await fixture.close();
      }
    }
  }
  const med = (variant, pick) => median(samples[variant].map(pick));
  const bareAll = config.variants.includes('bare') ? med('bare', (s) => s.all.msPerS) : NaN;
  const bareRss = config.variants.includes('bare') ? med('bare', (s) => s.rssMiB) : NaN;
  const rows = config.variants.map((variant) => {
    const all = med(variant, (s) => s.all.msPerS);
    const rss = med(variant, (s) => s.rssMiB);
    return [
      variant,
      fixed(med(variant, (s) => s.main.msPerS), 2),
      fixed(med(variant, (s) => s.watchdog.msPerS), 2),
      fixed(med(variant, (s) => s.other.msPerS), 2),
      fixed(all, 2),
      variant === 'bare' ? '' : fixed(all - bareAll, 2),
      variant === 'bare' ? '' : `${fixed(all / bareAll, 1)}×`,
      fixed(med(variant, (s) => s.main.wakeupsPerS), 1),
      fixed(med(variant, (s) => s.watchdog.wakeupsPerS), 1),
      fixed(rss, 1),
      variant === 'bare' ? '' : `+${fixed(rss - bareRss, 1)} (${fixed(rss / bareRss, 2)}×)`,
    ];
  });
  const lines = [
    `Idle process, CPU ms per second of each thread (median of ${config.rounds} runs of ${config.windowMs / 1000} s from ${config.warmupMs / 1000} s after start, variants alternated)`,
    formatTable(
      ['variant', 'main', 'watchdog', 'other threads', 'all threads', 'all − bare', 'all ×bare', 'main wake-ups/s', 'watchdog wake-ups/s', 'RSS MiB', 'RSS vs bare'],
      rows,
    ),
    '- bare: the same idle process without loopguard; default: startMonitor({ log: false }) (threshold 100, libuv probe on);',
    '  libuv-off: libuv: false; no-stacks: stacks: false (no watchdog thread). Wake-ups: voluntary context switches.',
  ];
  return { lines, samples };
}

if (process.argv[2] === 'child') {
  await child(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const config = {
    rounds: envNumber('BENCH_IDLE_ROUNDS', 3, { min: 1 }),
    windowMs: envNumber('BENCH_IDLE_WINDOW', 10000, { min: 1000 }),
    warmupMs: envNumber('BENCH_IDLE_WARMUP', 12000),
    variants: envList('BENCH_IDLE_VARIANTS', ['bare', 'default', 'libuv-off'], Object.keys(VARIANTS)),
  };
  const log = (line) => process.stderr.write(`${line}\n`);
  const { lines } = await runIdleThreads(config, log);
  console.log(`Node ${process.version}\n${lines.join('\n')}`);
}
