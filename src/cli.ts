#!/usr/bin/env node
// npx loopguard [options] -- node app.js
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { isatty } from 'node:tty';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { resolveMonitorOptions } from './monitor/options.js';
import { collectReport } from './report/collect.js';
import { STREAM_ENV, type AppRecord, type WatchdogRecord } from './shared/cli-stream.js';
import { FLAG_OF, parseCliArgs, UsageError, USAGE, WORKER_USAGE, withPreload, type WorkerCliOptions } from './zero-code/cli-args.js';
import { StreamCollector } from './zero-code/collector.js';
import { writeOutputs } from './zero-code/outputs.js';
import {
  isSettingError,
  monitorOptions,
  readSettings,
  unknownVariableWarnings,
  type EnvName,
  type ZeroCodeSettings,
} from './zero-code/settings.js';

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** Node's own exit code for an invalid argument or option (register uses it too). */
const EXIT_INVALID_ARGUMENT = 9;
/** stdio[3] carries the app's main thread's records, stdio[4] the watchdog thread's. */
const STREAM_FDS = '3,4';
/**
 * After the app has exited, how long to wait for its streams to end. They end at once unless
 * a process the app started inherited the descriptors and still runs.
 */
const DRAIN_TIMEOUT = 1000;
/** Raising these on ourselves would dump a core of the CLI: exit with the shell's 128 + n instead. */
const CORE_SIGNALS = new Set(['SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGILL', 'SIGQUIT', 'SIGSEGV', 'SIGSYS', 'SIGTRAP']);

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

/** Calls `onRecord` with each JSON line; a line that does not parse is skipped. */
function readRecords<T>(stream: Readable, onRecord: (record: T) => void): Promise<void> {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    let newline = buffered.indexOf('\n');
    while (newline !== -1) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
      try {
        onRecord(JSON.parse(line) as T);
      } catch {
        // not a record of ours
      }
    }
  });
  return new Promise((resolveEnd) => {
    stream.once('end', resolveEnd);
    stream.once('close', resolveEnd);
    stream.once('error', resolveEnd);
  });
}

/** The same settings register will read in the child, checked before anything runs. */
function checkSettings(env: NodeJS.ProcessEnv, fromFlags: Partial<Record<EnvName, string>>): ZeroCodeSettings {
  const settings = readSettings(env, (name) => (fromFlags[name] === undefined ? name : FLAG_OF[name]));
  resolveMonitorOptions(monitorOptions(settings));
  return settings;
}

function main(argv: readonly string[]): void {
  let request;
  let settings: ZeroCodeSettings;
  let env: NodeJS.ProcessEnv;
  try {
    request = parseCliArgs(argv);
    if (request.action === 'worker') {
      // The settings the monitor runs with in the worker, checked first like a flag.
      settings = readSettings(process.env);
      resolveMonitorOptions(monitorOptions(settings));
      for (const warning of unknownVariableWarnings(process.env)) process.stderr.write(`${warning}\n`);
      void runWorker(request.worker, settings);
      return;
    }
    if (request.action !== 'run') {
      process.stdout.write(request.action === 'help' ? USAGE : request.action === 'worker-help' ? WORKER_USAGE : `${version()}\n`);
      return;
    }
    env = { ...process.env, ...request.env };
    settings = checkSettings(env, request.env);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`loopguard: ${error.message}\n\n${argv[0] === 'worker' ? WORKER_USAGE : USAGE}`);
      process.exitCode = 2;
      return;
    }
    // A bad value: the one line register would print, and the same exit code.
    if (!isSettingError(error)) throw error;
    process.stderr.write(`loopguard: ${error.message}\n`);
    process.exitCode = EXIT_INVALID_ARGUMENT;
    return;
  }
  for (const warning of unknownVariableWarnings(env)) process.stderr.write(`${warning}\n`);
  const report = settings.report === undefined ? undefined : { ...settings.report, path: resolve(settings.report.path) };

  const [file, ...args] = request.command as [string, ...string[]];
  const child = spawn(file, args, {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe', 'pipe'],
    env: {
      ...env,
      NODE_OPTIONS: withPreload(process.env['NODE_OPTIONS'], registerUrl()),
      [STREAM_ENV]: STREAM_FDS,
    },
  });
  const appStream = child.stdio[3] as Readable;
  const watchdogStream = child.stdio[4] as Readable;
  const collector = new StreamCollector();
  const streamsEnded = Promise.all([
    readRecords<AppRecord>(appStream, (record) => collector.app(record)),
    readRecords<WatchdogRecord>(watchdogStream, (record) => collector.watchdog(record)),
  ]);

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
    appStream.destroy();
    watchdogStream.destroy();
  });

  child.on('exit', (code, signal) => {
    const endedAt = Date.now();
    let drainTimer: NodeJS.Timeout | undefined;
    const drained = new Promise<void>((resolveDrain) => {
      drainTimer = setTimeout(resolveDrain, DRAIN_TIMEOUT);
    });
    void Promise.race([streamsEnded, drained]).then(() => {
      clearTimeout(drainTimer);
      appStream.destroy();
      watchdogStream.destroy();
      if (collector.started) {
        collector.end(endedAt);
        writeOutputs(collectReport(collector, collector, 10, collector.subject(endedAt)), {
          summary: settings.summary,
          ...(report === undefined ? {} : { report }),
        });
      }
      exitLike(code, signal, forward);
    });
  });
}

/** Exit the way the child did, so our parent (a shell, a supervisor) sees what happened. */
function exitLike(code: number | null, signal: NodeJS.Signals | null, forward: (signal: NodeJS.Signals) => void): void {
  for (const forwarded of FORWARDED_SIGNALS) process.removeListener(forwarded, forward);
  if (signal === null) {
    process.exitCode = code ?? 1;
    return;
  }
  // The shell's convention, also for a signal that cannot kill us (ignored by our own parent).
  process.exitCode = 128 + (constants.signals[signal] ?? 0);
  if (!CORE_SIGNALS.has(signal)) process.kill(process.pid, signal);
}

/**
 * `loopguard worker`: this process is the worker (no child): it runs the monitor itself, and
 * drains on SIGTERM/SIGINT. A start that fails is one line and exit 9 for a bad setting (a
 * module not found), else the error (its stack, for a module that throws while loading) and 1.
 */
async function runWorker(options: WorkerCliOptions, settings: ZeroCodeSettings): Promise<void> {
  // Loaded only here: `loopguard -- node app.js` never loads the queue's code.
  const { startWorker } = await import('./queue/worker/worker.js');
  try {
    await startWorker({ ...options, monitor: monitorOptions(settings), log: 'json', handleSignals: true });
  } catch (error) {
    if (isSettingError(error)) {
      process.stderr.write(`loopguard: ${error.message}\n`);
      process.exitCode = EXIT_INVALID_ARGUMENT;
    } else {
      process.stderr.write(`loopguard worker: ${await startFailure(error, options.url)}\n`);
      process.exitCode = 1;
    }
    // What the modules opened (a database pool at their top level) must not hold the exit.
    process.exit();
  }
}

/** One line for loopguard's errors and the server's refusal; a module's own error with its stack. */
async function startFailure(error: unknown, url: string): Promise<string> {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('ERR_LOOPGUARD_')) return error.message;
  if (typeof (error as { syscall?: unknown }).syscall === 'string' || /^(ECONN|ENOTFOUND|ETIMEDOUT|EAI_|28P01|3D000)/.test(String(code))) {
    const { redactUrl } = await import('./queue/backends/open.js');
    return `cannot reach the queue at ${redactUrl(url)}: ${error.message}`;
  }
  return error.stack ?? error.message;
}

main(process.argv.slice(2));
