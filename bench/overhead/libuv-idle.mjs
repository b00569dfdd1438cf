// The libuv probe's own idle cost, A/B: the same idle process with startMonitor({ libuv: true })
// and ({ libuv: false }), alternating, each measuring its CPU (all threads) over an idle window.
// Run: node bench/overhead/libuv-idle.mjs [rounds]   (after npx tsup)
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WINDOW_MS = 5000;

if (process.argv[2] === 'child') {
  const { startMonitor } = await import('../../dist/index.js');
  const keepAlive = setTimeout(() => {}, 60_000);
  const monitor = startMonitor({ log: false, libuv: process.argv[3] === 'on' });
  await monitor.ready;
  await new Promise((resolve) => setTimeout(resolve, 1500)); // the watchdog started, first probes done
  const start = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
  const cpu = process.cpuUsage(start);
  process.send({ cpuMsPerS: (cpu.user + cpu.system) / WINDOW_MS, probes: monitor.stats().libuv ?? null });
  clearTimeout(keepAlive);
  await monitor.stop();
  process.disconnect();
} else {
  const rounds = Number(process.argv[2] ?? 5);
  const self = fileURLToPath(import.meta.url);
  const results = { on: [], off: [] };
  const once = (variant) =>
    new Promise((resolve, reject) => {
      const child = fork(self, ['child', variant], { execArgv: [] });
      child.on('message', (message) => resolve(message.cpuMsPerS));
      child.on('error', reject);
    });
  for (let round = 0; round < rounds; round++) {
    for (const variant of round % 2 === 0 ? ['off', 'on'] : ['on', 'off']) results[variant].push(await once(variant));
  }
  const median = (values) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const fmt = (values) => values.map((value) => value.toFixed(2)).join(' ');
  console.log(`libuv: false  ms CPU/s: ${fmt(results.off)}  median ${median(results.off).toFixed(2)}`);
  console.log(`libuv: true   ms CPU/s: ${fmt(results.on)}  median ${median(results.on).toFixed(2)}`);
  console.log(`probe's cost (median difference): ${(median(results.on) - median(results.off)).toFixed(2)} ms CPU/s`);
}
