// What mapping a stack through a large source map (65,000 generated lines, a bundle's) costs the
// main thread: the longest stretch it ran without its loop turning (CPU time between two ticks
// of a 2 ms probe, from schedstat) from the app's event to 300 ms after its event, with source
// maps on and off, in alternated rounds of test/fixtures/monitor/large-map-probe.mjs, for a
// block (mapped by the watchdog) and a sync-call event (mapped on the main thread, no watchdog).
// Usage: npm run build && node bench/source-maps.mjs [rounds]
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('../test/fixtures/monitor/large-map-probe.mjs', import.meta.url));
const rounds = Number(process.argv[2] ?? 6);

function probe(mode, maps) {
  const env = { ...process.env };
  if (maps) delete env.NOMAPS;
  else env.NOMAPS = '1';
  const out = execFileSync(process.execPath, [fixture, mode], { env, encoding: 'utf8' });
  const line = out
    .trim()
    .split('\n')
    .map((text) => JSON.parse(text))
    .find((value) => value.type === 'probe');
  return line;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

console.log(`Node ${process.version}, load ${loadavg().map((n) => n.toFixed(1)).join(' ')}, ${rounds} alternated rounds`);
for (const mode of ['block', 'sync-call']) {
  const on = [];
  const off = [];
  const onCode = [];
  const calls = [];
  for (let round = 0; round < rounds; round += 1) {
    for (const maps of round % 2 === 0 ? [true, false] : [false, true]) {
      const result = probe(mode, maps);
      (maps ? on : off).push(result.longestMs);
      if (maps) onCode.push(result.longestCodeMs);
      if (maps && result.callMs !== undefined) calls.push(result.callMs);
    }
  }
  const extra = calls.length > 0 ? `, the call itself ${median(calls)} ms` : '';
  console.log(
    `${mode}: longest main-thread stretch, median: maps on ${median(on)} ms (without GC ${median(onCode)} ms), ` +
      `maps off ${median(off)} ms, max on ${Math.max(...on)} ms${extra}`,
  );
}
console.log(`load after: ${loadavg().map((n) => n.toFixed(1)).join(' ')}`);
