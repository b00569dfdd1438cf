#!/usr/bin/env node
// npx loopguard [options] -- node app.js
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { isatty } from 'node:tty';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { parseCliArgs, UsageError, USAGE, withPreload } from './zero-code/cli-args.js';

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** dist/register.js sits next to this file in the built package (both builds). */
function registerUrl(): string {
  return pathToFileURL(fileURLToPath(new URL('./register.js', import.meta.url))).href;
}

function version(): string {
  const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return packageJson.version;
}

function main(argv: readonly string[]): void {
  let request;
  try {
    request = parseCliArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`loopguard: ${error.message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (request.action === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (request.action === 'version') {
    process.stdout.write(`${version()}\n`);
    return;
  }

  const [file, ...args] = request.command as [string, ...string[]];
  const child = spawn(file, args, {
    stdio: 'inherit',
    env: { ...process.env, ...request.env, NODE_OPTIONS: withPreload(process.env['NODE_OPTIONS'], registerUrl()) },
  });

  // Ctrl-C in a terminal already reaches the child (it shares our process group); passing it
  // on as well would deliver it twice, which many apps read as "force quit". So on a terminal
  // SIGINT is only kept from killing us before the child has finished.
  // isatty, not process.stdin.isTTY: creating process.stdin could compete with the child for input.
  const interactive = isatty(0) || isatty(1) || isatty(2);
  const forward = (signal: NodeJS.Signals): void => {
    if (signal === 'SIGINT' && interactive) return;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);

  child.on('error', (error: NodeJS.ErrnoException) => {
    const reason = error.code === 'ENOENT' ? `command not found: ${file}` : error.message;
    process.stderr.write(`loopguard: ${reason}\n`);
    process.exitCode = error.code === 'ENOENT' ? 127 : 1;
    for (const signal of FORWARDED_SIGNALS) process.removeListener(signal, forward);
  });

  child.on('exit', (code, signal) => {
    for (const forwarded of FORWARDED_SIGNALS) process.removeListener(forwarded, forward);
    if (signal !== null) {
      // Die the same way, so our parent (a shell, a supervisor) sees what happened.
      process.kill(process.pid, signal);
      // Signals that cannot kill us (ignored by our own parent): the shell's convention.
      process.exitCode = 128 + (constants.signals[signal] ?? 0);
      return;
    }
    process.exitCode = code ?? 1;
  });
}

main(process.argv.slice(2));
