// An idle process for the RSS and idle-CPU comparison. argv: <variant>. Run with --expose-gc
// so both sides are measured after a full collection, not at whatever point the heap happened
// to be. Idle CPU is what a service that is not serving pays to be watched: the timers that
// wake its loop and the watchdog thread's polling (process.cpuUsage counts every thread).
import { setTimeout as sleep } from 'node:timers/promises';
import { installVariant, VariantUnavailable } from './variants.mjs';

const [variant] = process.argv.slice(2);
// Keep the process alive ourselves: the monitor must not (and does not) do it for us.
const keepAlive = setInterval(() => {}, 1000);
try {
  await installVariant(variant, { log: false });
} catch (error) {
  if (!(error instanceof VariantUnavailable)) throw error;
  process.send({ type: 'unavailable', reason: error.message });
  process.exit(0);
}
await sleep(1500); // let the watchdog worker start and the heap settle
globalThis.gc?.();
await sleep(300);
globalThis.gc?.();
const usage = process.memoryUsage();
const IDLE_WINDOW_MS = 3000;
const cpuStart = process.cpuUsage();
await sleep(IDLE_WINDOW_MS);
const cpu = process.cpuUsage(cpuStart);
const idleCpuMsPerS = (cpu.user + cpu.system) / IDLE_WINDOW_MS;
process.send({ type: 'memory', rss: usage.rss, heapUsed: usage.heapUsed, external: usage.external, idleCpuMsPerS });
clearInterval(keepAlive);
process.disconnect();
