// npm run demo: a real service with a blocking route, caught by loopguard and then fixed.
//
//  1. starts server.mjs under the loopguard CLI (zero code: the service does not import the
//     monitor) and drives GET /users/42 with autocannon from this process, on 127.0.0.1;
//  2. shows loopguard's warning (route and stack) and its summary at exit;
//  3. runs the fixed service, where hashPassword is marked with threaded(), under the same
//     load, and compares the loop delay;
//  4. leaves an HTML report of each run in a temporary directory and prints where.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const here = fileURLToPath(new URL('.', import.meta.url));
const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const reports = mkdtempSync(join(tmpdir(), 'loopguard-demo-'));
const LOAD_SECONDS = 3;
const CONNECTIONS = 8;

const dim = (text) => (process.stdout.isTTY ? `\x1b[2m${text}\x1b[22m` : text);
const bold = (text) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[22m` : text);

async function runService(title, { fixed }) {
  console.log(`\n${bold(title)}`);
  const report = join(reports, fixed ? 'fixed.html' : 'blocking.html');
  const args = [cli, '--threshold', '50', '--log', 'pretty', '--report', report, '--', process.execPath, 'server.mjs'];
  console.log(dim(`$ loopguard --threshold 50 --report ${report} -- node server.mjs`));
  const service = spawn(process.execPath, args, {
    cwd: here,
    env: { ...process.env, DEMO_FIXED: fixed ? '1' : '0', NODE_ENV: 'development' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The service's stderr is loopguard's output: show it, indented, as it comes.
  let loggedBlocks = 0;
  let stackless = 0;
  createInterface({ input: service.stderr }).on('line', (line) => {
    if (line.includes('event loop blocked for')) loggedBlocks++;
    if (line.includes('(stack not captured)')) stackless++;
    console.log(`  │ ${line}`);
  });
  const [line] = await once(createInterface({ input: service.stdout }), 'line');
  const { port } = JSON.parse(line);

  console.log(dim(`load: autocannon, ${CONNECTIONS} connections for ${LOAD_SECONDS} s on GET http://127.0.0.1:${port}/users/42`));
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/users/42`,
    connections: CONNECTIONS,
    duration: LOAD_SECONDS,
  });
  console.log(
    `load done: ${result.requests.total} requests, latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ` +
      `${result.errors + result.non2xx} errors`,
  );

  service.kill('SIGTERM');
  await once(service, 'exit');
  if (!fixed) explainWarnings(loggedBlocks, stackless);
  // The report embeds its data as JSON: read the numbers back for the comparison.
  const html = readFileSync(report, 'utf8');
  const json = /<script type="application\/json" id="loopguard-data">([\s\S]*?)<\/script>/.exec(html)?.[1];
  return { report, data: JSON.parse(json), requests: result.requests.total };
}

/** What a first-time reader of the output above needs to know, in the demo's own words. */
function explainWarnings(logged, stackless) {
  const notes = [
    `loopguard logged ${logged} block warning${logged === 1 ? '' : 's'}, yet the summary counts every block: repeated blocks at ` +
      'the same site and route are logged once per `dedupe` window (60 s) and counted, not printed again.',
  ];
  if (stackless > 0) {
    notes.push(
      '"(stack not captured)" means that block ended before the watchdog thread read its stack: the first request ' +
        'can arrive while the watchdog is still starting, and a block just over the threshold can end before the ' +
        'capture lands (~10 ms later). The block is still measured and counted; the next one carries the stack.',
    );
  }
  for (const note of notes) console.log(dim(`  note: ${note}`));
}

const started = Date.now();
const blocking = await runService('1/2  The blocking service: hashPassword runs on the event loop', { fixed: false });
const fixed = await runService('2/2  The fixed service: hashPassword = threaded(hashPassword) runs in a worker', { fixed: true });

const row = (name, run) => {
  const { delay, blocks } = run.data.stats;
  return `  ${name.padEnd(9)} loop delay p99 ${String(Math.round(delay.p99)).padStart(4)} ms, max ${String(Math.round(delay.max)).padStart(4)} ms, ${String(blocks.count).padStart(3)} blocks, ${run.requests} requests`;
};
console.log(`\n${bold('Loop delay under the same load')}`);
console.log(row('blocking', blocking));
console.log(row('fixed', fixed));
console.log(`\nReports (self-contained HTML, open in a browser):\n  ${blocking.report}\n  ${fixed.report}`);
console.log(dim(`demo took ${((Date.now() - started) / 1000).toFixed(1)} s`));
