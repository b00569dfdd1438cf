/**
 * The only side-effecting entry: `node --import loopguard/register app.js` (ESM) or
 * `node -r loopguard/register app.js` (CJS), which the `loopguard` CLI uses too.
 *
 * It starts the monitor from the LOOPGUARD_* variables (node:http requests are attributed by
 * the monitor's default `http: true`, and after awaits by zero-code/http-requests.ts, which
 * also gives Fastify's route patterns). Under the CLI it streams what the summary and the report
 * need to the CLI, which prints and writes them however the app ends; alone, it prints the
 * summary and writes the report in process 'exit'.
 *
 * It never changes how the app dies: it adds no signal listener (see zero-code/exit-watchdog.ts),
 * and nothing here keeps the process alive. Everything at exit is synchronous ('exit'
 * listeners cannot wait). The cost of that: a bare register run cannot print a summary when the
 * app dies by a signal it does not handle ('exit' does not fire); the CLI can.
 */
import { resolve } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { runningMonitor, startMonitor } from './monitor/monitor.js';
import { resolveMonitorOptions } from './monitor/options.js';
import { ensureGlobal, getGlobal } from './shared/globals.js';
import { collectReport, recordBlocks } from './report/collect.js';
import type { Monitor } from './types.js';
import { armExitWatchdog } from './zero-code/exit-watchdog.js';
import { trackHandles } from './zero-code/explain.js';
import { nameZeroCodeRequests } from './zero-code/http-requests.js';
import { writeOutputs } from './zero-code/outputs.js';
import { isSettingError, monitorOptions, readSettings, unknownVariableWarnings } from './zero-code/settings.js';
import { streamToCli, takeStreamFds } from './zero-code/stream-out.js';

/** Node's own exit code for an invalid argument or option. */
const EXIT_INVALID_ARGUMENT = 9;

/**
 * A preload that cannot honour its configuration must not let the app run unwatched, and a
 * one-line message beats a stack trace out of a preload nobody wrote.
 */
function refuse(error: unknown): never {
  if (!isSettingError(error)) throw error;
  process.stderr.write(`loopguard: ${error.message}\n`);
  process.exit(EXIT_INVALID_ARGUMENT);
}

function setUp(): void {
  // First, before anything can fail or start a process: the descriptors are ours alone.
  const cli = takeStreamFds(process.env);
  let settings;
  let monitor: Monitor;
  let hangTimeout: number;
  let http: boolean;
  try {
    settings = readSettings(process.env);
    const options = monitorOptions(settings);
    // Validated before anything starts, so a refusal leaves no monitor or thread behind.
    ({ hangTimeout, http } = resolveMonitorOptions(options));
    // The CLI has already warned about these.
    if (cli === undefined) for (const warning of unknownVariableWarnings(process.env)) process.stderr.write(`${warning}\n`);
    // Before the monitor, so handles the app creates from its first line on are recorded.
    if (settings.trackHandles) trackHandles();
    monitor = startMonitor(options);
  } catch (error) {
    refuse(error);
  }
  // Before the app's first line: its servers and Fastify instances are made after this.
  if (http) nameZeroCodeRequests();
  // The whole app is ours to judge: its start-up lasts until its first server listens.
  (monitor as Partial<{ judgeStartupByListen(): void }>).judgeStartupByListen?.();
  // Resolved now: an app that changes directory must not move its report.
  const report = settings.report === undefined ? undefined : { ...settings.report, path: resolve(settings.report.path) };
  const recorder = recordBlocks(monitor);
  const stream = cli === undefined ? undefined : streamToCli(monitor, cli, hangTimeout);
  // Resolves once the watchdog thread is watching. A preload cannot wait for it itself (the
  // CommonJS build has no top-level await), so the CLI adds a tiny ESM preload that does
  // (WAIT_FOR_WATCHDOG in cli-args.ts): blocks in the app's own start-up then get stacks.
  const ready = runningMonitor()?.ready ?? Promise.resolve();
  ensureGlobal('registerReady', () => ready);
  const exitWatchdog = armExitWatchdog({ exitTimeout: settings.exitTimeout });

  const finish = (): void => {
    exitWatchdog.disarm();
    // Before anything reads the figures: the block the app exits from is counted and streamed.
    getGlobal('monitor')?.flushAtExit?.();
    // The CLI prints and writes; here only when there is none, or it can no longer be reached.
    if (stream?.finish() === true) return;
    try {
      writeOutputs(collectReport(monitor, recorder), { summary: settings.summary, ...(report === undefined ? {} : { report }) });
    } catch (error) {
      process.stderr.write(`loopguard: could not write the summary or report: ${String(error)}\n`);
    }
  };
  // Prepended so the numbers are read before the monitor's own 'exit' listener tears it down.
  process.prependListener('exit', finish);
}

// Worker threads inherit NODE_OPTIONS preloads (loopguard's own pool threads among them):
// the monitor watches the main thread's loop, so a worker sets up nothing.
// Loaded twice (say --import and -r, or both builds)? Set up once.
if (isMainThread) {
  ensureGlobal('register', () => {
    setUp();
    return true;
  });
}
