// How long after a block starts does the watchdog capture its stack? argv: <variant> <blocks>
// <threshold ms> <block ms>. The busy loop below reads performance.now() back to back; while the
// inspector interrupts or pauses the main thread, no read happens, so the interruption shows as
// a jump between two consecutive reads. The jumps after the threshold are the watchdog at work
// (Debugger.enable, the pause in which frames are read, resume/disable). The `bare` variant
// runs the same loop with no monitor, to show how often the host alone causes such jumps.
// `loopguard` runs the block inside withContext() (a known context: the quick stack names it,
// no debugger is enabled), `loopguard-nocontext` without (the request walk enables the debugger
// and pauses). Each jump also says how much of it the main thread spent waiting for a CPU
// (Linux schedstat, read only after a jump), so that `held` is the watchdog's doing more than
// the host's. The moment the stack was taken is read as detect-latency.mjs does (the stack
// expression calls loopguard/otel's span reader; one registered here notes the time), and the
// watchdog's count of debugger enables (Slot.DEBUGGER_ENABLES) is read around each block.
import { openSync, readvSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { installVariant, loadLoopguard, VariantUnavailable } from './variants.mjs';

const [variant, blocksArg, thresholdArg, blockArg] = process.argv.slice(2);
const blocks = Number(blocksArg);
const threshold = Number(thresholdArg);
const blockMs = Number(blockArg);
const JUMP_MS = 1;

const events = [];
let state;
try {
  state = await installVariant(variant === 'bare' ? 'bare' : 'loopguard', { threshold, log: false });
} catch (error) {
  if (!(error instanceof VariantUnavailable)) throw error;
  process.send({ type: 'unavailable', reason: error.message });
  process.exit(0);
}
state.monitor?.on('block', (event) => events.push(event));

// The monitor reads the current withContext() context on the main thread while it holds it
// paused, through JSON.stringify: a toJSON() in that context therefore runs at the very moment
// of capture and can say when that was. (An implementation detail of today's monitor; without
// it the event simply carries no probe and the jump columns still bound the capture.)
const clock = { t0: 0 };
const probe = { toJSON: () => performance.now() - clock.t0 };
const loopguard = state.monitor ? await loadLoopguard() : undefined;
const inProbeContext = (fn) => (loopguard && variant === 'loopguard' ? loopguard.withContext({ name: 'capture-probe', probe }, fn) : fn());
const readers = [];
globalThis[Symbol.for('loopguard.v1.readActiveSpan')] = () => {
  readers.push(performance.now());
  return undefined;
};
const enables = () => {
  const slots = globalThis[Symbol.for('loopguard.v1.heartbeat')];
  return slots instanceof Int32Array ? Atomics.load(slots, 15) : NaN;
};
// Opened once, read with readvSync: the sync-call wrapping (fs.openSync, fs.readSync,
// fs.readFileSync) marks a native call in progress, which changes how the watchdog captures.
let schedstat;
try {
  schedstat = openSync('/proc/thread-self/schedstat', 'r');
} catch {
  schedstat = undefined;
}
const statBuffer = Buffer.alloc(128);

function waitedNs() {
  if (schedstat === undefined) return NaN;
  try {
    const length = readvSync(schedstat, [statBuffer], 0);
    return Number(statBuffer.toString('latin1', 0, length).split(' ')[1]);
  } catch {
    return NaN;
  }
}

function spinForCapture(ms) {
  const startedAt = Date.now();
  const t0 = performance.now();
  clock.t0 = t0;
  const jumps = [];
  let previous = t0;
  let waited = waitedNs();
  for (;;) {
    const now = performance.now();
    if (now - previous >= JUMP_MS) {
      const waitedAfter = waitedNs();
      const queued = Number.isFinite(waitedAfter - waited) ? (waitedAfter - waited) / 1e6 : 0;
      waited = waitedAfter;
      jumps.push({ at: previous - t0, length: now - previous, held: Math.max(0, now - previous - queued) });
      previous = performance.now();
    } else {
      previous = now;
    }
    if (now - t0 >= ms) break;
  }
  return { startedAt, t0, jumps };
}

await sleep(1000); // the monitor's own start-up is not what is measured
const results = [];
for (let i = 0; i < blocks; i += 1) {
  await sleep(300); // an idle gap so the watchdog sees a fresh heartbeat before each block
  const before = events.length;
  // CPU of the whole process (all threads) over the block, against the block's wall time: what
  // is left over is the watchdog thread's own work while the main thread is blocked.
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  const readersBefore = readers.length;
  const enablesBefore = enables();
  const spin = inProbeContext(() => spinForCapture(blockMs));
  const stackAt = readers.slice(readersBefore).find((t) => t >= spin.t0 && t <= spin.t0 + blockMs);
  spin.stackAtMs = stackAt === undefined ? null : stackAt - spin.t0;
  const cpu = process.cpuUsage(cpuBefore);
  spin.otherThreadsCpuMs = (cpu.user + cpu.system) / 1000 - (performance.now() - wallBefore);
  await sleep(100); // the event is emitted once the loop is back and the watchdog has posted
  spin.enables = enables() - enablesBefore;
  const event = events.slice(before).find((e) => e.kind === 'block') ?? null;
  results.push({
    ...spin,
    event: event && {
      startedAt: event.startedAt,
      duration: event.duration,
      frames: event.stack.length,
      top: event.stack[0] ? `${event.stack[0].function} (${event.stack[0].file.split('/').pop()}:${event.stack[0].line})` : null,
      namesSpin: event.stack.some((f) => f.function === 'spinForCapture'),
      capturedAtMs: typeof event.context?.probe === 'number' ? event.context.probe : null,
      extra: Object.fromEntries(Object.entries(event).filter(([k, v]) => typeof v === 'number' && !['startedAt', 'duration', 'threshold'].includes(k))),
    },
  });
}
process.send({ type: 'capture', results });
await state.monitor?.stop();
process.disconnect();
