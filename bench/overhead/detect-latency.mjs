// npm run bench:idle (second part) — how soon after a block starts is its stack in hand, at the
// default threshold, now that an idle loop beats slowly? Each block starts at a random moment
// after an idle spell (so at every phase of the slow heartbeat), spins, and is timed by its own
// performance.now(). The moment the stack is taken is read from the watchdog's stack expression
// itself: it calls the OpenTelemetry span reader that loopguard/otel registers (globals.ts
// `readActiveSpan`), and a reader registered here notes the time and returns nothing. (An
// implementation detail of today's capture; without it the table says n/a.)
// Short blocks (60% of the threshold) check the other side: none may be reported, and the
// column "stack taken" counts those the watchdog took a stack for anyway (its early look, see
// DESIGN.md "Heartbeat and watchdog").
// argv: child <threshold> <blocks>; the driver forks one child per round.
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { envNumber, fixed, forkFixture, formatTable, median } from './lib.mjs';
import { loadLoopguard } from './variants.mjs';

const LONG = 3; // long blocks are LONG × threshold
const SHORT = 0.6;

function spin(ms) {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    // busy
  }
}

async function child(threshold, blocks) {
  // The monitor keeps nothing alive (nor should it): this does, as a service's server would.
  const keepAlive = setInterval(() => {}, 1000);
  const { startMonitor } = await loadLoopguard();
  const monitor = startMonitor({ log: false, ...(threshold === 100 ? {} : { threshold }) });
  const events = [];
  monitor.on('block', (event) => events.push(event));
  await monitor.ready;
  const readers = [];
  globalThis[Symbol.for('loopguard.v1.readActiveSpan')] = () => {
    readers.push(performance.timeOrigin + performance.now());
    return undefined;
  };
  await sleep(1500); // past the monitor's start-up, and the heartbeat slowed down
  const results = [];
  for (let i = 0; i < blocks; i += 1) {
    for (const kind of i % 2 === 0 ? ['long', 'short'] : ['short', 'long']) {
      // An idle spell of at least 1.2 s (the heartbeat is slow again) and a random phase.
      await sleep(1200 + Math.random() * 2 * threshold);
      const before = events.length;
      const readersBefore = readers.length;
      const startedAt = performance.timeOrigin + performance.now();
      spin(kind === 'long' ? LONG * threshold : SHORT * threshold);
      const endedAt = performance.timeOrigin + performance.now();
      // The event is emitted once the loop is back and the watchdog has looked and posted: on a
      // loaded host that can take longer than the 50 ms this waited once (a block then read as
      // not reported).
      const waitUntil = performance.now() + 1000;
      while (!events.slice(before).some((e) => e.kind === 'block') && performance.now() < waitUntil) await sleep(10);
      const event = events.slice(before).find((e) => e.kind === 'block');
      const stackAt = readers.slice(readersBefore).find((t) => t >= startedAt && t <= endedAt);
      results.push({
        kind,
        reported: event !== undefined,
        namesSpin: event?.stack.some((frame) => frame.function === 'spin') ?? false,
        stackTakenMs: stackAt === undefined ? null : stackAt - startedAt,
        durationErrorMs: event === undefined ? null : event.duration - (endedAt - startedAt),
        startErrorMs: event === undefined ? null : event.startedAt - startedAt,
      });
    }
  }
  process.send({ type: 'latency', results });
  clearInterval(keepAlive);
  await monitor.stop();
  process.disconnect();
}

export async function runDetectLatency(config, log) {
  const self = fileURLToPath(import.meta.url);
  const results = [];
  for (let round = 0; round < config.rounds; round += 1) {
    const fixture = forkFixture(self, ['child', String(config.threshold), String(config.blocks)], { timeoutMs: 120000 });
    try {
      results.push(...(await fixture.next('latency')).results);
    } finally {
      await fixture.close();
    }
    log(`  latency round ${round + 1}: ${results.length} blocks`);
  }
  const long = results.filter((r) => r.kind === 'long');
  const short = results.filter((r) => r.kind === 'short');
  const taken = long.map((r) => r.stackTakenMs).filter((v) => v !== null).sort((a, b) => a - b);
  const limit = config.threshold + 25;
  const lines = [
    `Block start → stack in hand at threshold ${config.threshold} ms (${long.length} blocks of ${LONG * config.threshold} ms and ${short.length} of ${SHORT * config.threshold} ms, each after ≥ 1.2 s idle at a random phase)`,
    formatTable(
      ['blocks', 'reported', 'stack names the block', 'stack taken at, ms after start: median', 'p90', 'max', `≤ threshold + 25 (${limit} ms)`, 'duration − real, median ms', 'startedAt − real, median ms', 'stack taken (wasted)'],
      [
        [
          `${LONG * config.threshold} ms`,
          `${long.filter((r) => r.reported).length}/${long.length}`,
          `${long.filter((r) => r.namesSpin).length}/${long.length}`,
          fixed(median(taken)),
          fixed(taken[Math.min(taken.length - 1, Math.ceil(taken.length * 0.9) - 1)]),
          fixed(taken.at(-1)),
          `${taken.filter((v) => v <= limit).length}/${long.length}`,
          fixed(median(long.map((r) => r.durationErrorMs))),
          fixed(median(long.map((r) => r.startErrorMs))),
          '',
        ],
        [
          `${SHORT * config.threshold} ms`,
          `${short.filter((r) => r.reported).length}/${short.length} (must be 0)`,
          '',
          '',
          '',
          '',
          '',
          '',
          '',
          `${short.filter((r) => r.stackTakenMs !== null).length}/${short.length}`,
        ],
      ],
    ),
  ];
  return { lines, results };
}

if (process.argv[2] === 'child') {
  await child(Number(process.argv[3]), Number(process.argv[4]));
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const config = {
    rounds: envNumber('BENCH_LATENCY_ROUNDS', 2, { min: 1 }),
    blocks: envNumber('BENCH_LATENCY_BLOCKS', 10, { min: 1 }),
    threshold: envNumber('BENCH_LATENCY_THRESHOLD', 100, { min: 1 }),
  };
  const { lines } = await runDetectLatency(config, (line) => process.stderr.write(`${line}\n`));
  console.log(`Node ${process.version}\n${lines.join('\n')}`);
}
