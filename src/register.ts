/**
 * The only side-effecting entry: `node --import loopguard/register app.js` (ESM) or
 * `node -r loopguard/register app.js` (CJS), which the `loopguard` CLI uses too.
 *
 * It starts the monitor from the LOOPGUARD_* variables (node:http requests are attributed by
 * the monitor's default `http: true`), and at exit prints the summary and writes the report.
 * Everything at exit is synchronous ('exit' listeners cannot wait) and nothing here keeps the
 * process alive: the app still exits by itself.
 */
import { resolve } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { runningMonitor, startMonitor } from './monitor/monitor.js';
import { ensureGlobal } from './shared/globals.js';
import { collectReport, recordBlocks } from './report/collect.js';
import { armExitWatchdog } from './zero-code/exit-watchdog.js';
import { trackHandles } from './zero-code/explain.js';
import { readSettings, type ZeroCodeSettings } from './zero-code/settings.js';
import { formatSummary } from './report/summary.js';
import { writeReportSync } from './report/write.js';
import type { MonitorOptions } from './types.js';

/** Node's own exit code for an invalid argument or option. */
const EXIT_INVALID_ARGUMENT = 9;

function loadSettings(): ZeroCodeSettings {
  try {
    return readSettings(process.env);
  } catch (error) {
    // A preload that cannot honour its configuration must not let the app run unwatched,
    // and a one-line message beats a stack trace out of a preload nobody wrote.
    process.stderr.write(`loopguard: ${(error as Error).message}\n`);
    process.exit(EXIT_INVALID_ARGUMENT);
  }
}

function setUp(): void {
  const settings = loadSettings();
  // First, so handles the app creates from its first line on are recorded.
  if (settings.trackHandles) trackHandles();

  const options: MonitorOptions = {};
  if (settings.threshold !== undefined) options.threshold = settings.threshold;
  if (settings.hangTimeout !== undefined) options.hangTimeout = settings.hangTimeout;
  if (settings.log !== undefined) options.log = settings.log;
  if (settings.syncCalls !== undefined) options.syncCalls = settings.syncCalls;
  // Resolved now: an app that changes directory must not move its report.
  const report = settings.report === undefined ? undefined : { ...settings.report, path: resolve(settings.report.path) };
  const monitor = startMonitor(options);
  const recorder = recordBlocks(monitor);
  // Resolves once the watchdog thread is watching. A preload cannot wait for it itself (the
  // CommonJS build has no top-level await), so the CLI adds a tiny ESM preload that does
  // (WAIT_FOR_WATCHDOG in cli-args.ts): blocks in the app's own start-up then get stacks.
  const ready = runningMonitor()?.ready ?? Promise.resolve();
  ensureGlobal('registerReady', () => ready);

  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    try {
      const data = collectReport(monitor, recorder);
      let reportPath: string | undefined;
      if (report !== undefined) reportPath = writeReportSync(data, report.path, report.format);
      if (settings.summary) {
        process.stderr.write(formatSummary(data, reportPath === undefined ? {} : { reportPath }));
      }
    } catch (error) {
      process.stderr.write(`loopguard: could not write the summary or report: ${String(error)}\n`);
    }
  };
  // Prepended so the numbers are read before the monitor's own 'exit' listener tears it down.
  process.prependListener('exit', finish);
  armExitWatchdog({ exitTimeout: settings.exitTimeout, beforeDefault: finish });
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
