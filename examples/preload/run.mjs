// Runs app.mjs, untouched, under the loopguard CLI (as `npx loopguard` would), sends it one
// request from this process, then stops it with SIGINT the way Ctrl-C would. The app has
// no SIGINT handler, so it dies by the signal as usual, and loopguard prints its summary.
//
//   npm run build && node examples/preload/run.mjs
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const report = join(mkdtempSync(join(tmpdir(), 'loopguard-preload-')), 'report.html');

const child = spawn(
  process.execPath,
  [cli, '--threshold', '50', '--report', report, '--', process.execPath, 'app.mjs'],
  { cwd: here, env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] },
);
const [line] = await once(createInterface({ input: child.stdout }), 'line');
const { url } = JSON.parse(line);
console.log(`GET ${url}`);
const response = await fetch(url);
console.log(`-> ${response.status} ${await response.text()}`);

child.kill('SIGINT');
const [code, signal] = await once(child, 'exit');
console.log(`loopguard exited with ${signal ?? `code ${code}`}; the HTML report is ${report}`);
