// An idle process for the RSS comparison. argv: <variant>. Run with --expose-gc so both
// sides are measured after a full collection, not at whatever point the heap happened to be.
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
process.send({ type: 'memory', rss: usage.rss, heapUsed: usage.heapUsed, external: usage.external });
clearInterval(keepAlive);
process.disconnect();
