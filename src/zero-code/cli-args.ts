/**
 * The `loopguard` command line: flags are validated with the same rules as the LOOPGUARD_*
 * variables register reads (settings.ts), then handed to the child as those variables.
 */
import { resolve } from 'node:path';
import { ENV_VARIABLES, parseChoice, parseMs, parseReport, type EnvName } from './settings.js';
import { globalKey } from '../shared/globals.js';

export const USAGE = `Usage: loopguard [options] -- <command> [args...]

Runs <command> (usually \`node app.js\`) with loopguard preloaded: blocks of the event loop
are reported as they happen, with their stack and request, and a summary (delay percentiles,
top blockers) is printed when the process exits. The app needs no change. Works for ESM and
CommonJS apps (it adds --import loopguard/register to NODE_OPTIONS).

Options:
  --threshold <ms>          a synchronous stretch longer than this is a block (default 100)
  --sync-calls <mode>       warn | throw | false: blocking Node APIs (fs.*Sync, ...) in requests
  --report <file>           write a report at exit: file.html (self-contained page) or file.json
  --log <mode>              pretty | json | false (default: pretty on a TTY or outside production)
  --hang-timeout <ms>       report a block still in progress after this long; 0 = off (default 5000)
  --exit-timeout <ms>       after SIGINT/SIGTERM, explain what keeps the process alive this long
                            after; 0 = off (default 3000)
  --track-handles           record where handles are created, for --exit-timeout (slow)
  --no-summary              do not print the summary at exit
  -h, --help                show this help
  -v, --version             show the version

Signals SIGINT, SIGTERM and SIGHUP are passed on to the command, and loopguard exits with its
exit code (or dies by the same signal). Example:
  npx loopguard --threshold 50 --report report.html -- node server.js

Without the CLI: node --import loopguard/register app.js (or -r for CommonJS), configured by
${Object.entries(ENV_VARIABLES)
  .map(([name, meaning]) => `  ${name.padEnd(25)} ${meaning}`)
  .join('\n')}
`;

/** A mistake on the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type CliRequest =
  | { action: 'help' }
  | { action: 'version' }
  | { action: 'run'; command: string[]; env: Partial<Record<EnvName, string>> };

const VALUE_FLAGS = ['--threshold', '--sync-calls', '--report', '--log', '--hang-timeout', '--exit-timeout'] as const;
type ValueFlag = (typeof VALUE_FLAGS)[number];

function isValueFlag(flag: string): flag is ValueFlag {
  return (VALUE_FLAGS as readonly string[]).includes(flag);
}

function applyValue(flag: ValueFlag, value: string, env: Partial<Record<EnvName, string>>, cwd: string): void {
  switch (flag) {
    case '--threshold':
      env.LOOPGUARD_THRESHOLD = String(parseMs(flag, value, 1));
      break;
    case '--hang-timeout':
      env.LOOPGUARD_HANG_TIMEOUT = String(parseMs(flag, value, 0));
      break;
    case '--exit-timeout':
      env.LOOPGUARD_EXIT_TIMEOUT = String(parseMs(flag, value, 0));
      break;
    case '--sync-calls':
      env.LOOPGUARD_SYNC_CALLS = String(parseChoice(flag, value, ['warn', 'throw']));
      break;
    case '--log':
      env.LOOPGUARD_LOG = String(parseChoice(flag, value, ['pretty', 'json']));
      break;
    case '--report':
      // Absolute, so the report lands where the user ran loopguard whatever the child does.
      env.LOOPGUARD_REPORT = resolve(cwd, parseReport(flag, value).path);
      break;
  }
}

/** Parse `argv` (without node and the script); throws UsageError. */
export function parseCliArgs(argv: readonly string[], cwd = process.cwd()): CliRequest {
  const env: Partial<Record<EnvName, string>> = {};
  let index = 0;
  while (index < argv.length) {
    const arg = argv[index] as string;
    if (arg === '--') {
      index += 1;
      break;
    }
    if (!arg.startsWith('-')) break; // the command starts here (the `--` is optional)
    if (arg === '-h' || arg === '--help') return { action: 'help' };
    if (arg === '-v' || arg === '--version') return { action: 'version' };
    if (arg === '--track-handles') {
      env.LOOPGUARD_TRACK_HANDLES = 'true';
      index += 1;
      continue;
    }
    if (arg === '--no-summary') {
      env.LOOPGUARD_SUMMARY = 'false';
      index += 1;
      continue;
    }
    const equals = arg.indexOf('=');
    const flag = equals === -1 ? arg : arg.slice(0, equals);
    if (!isValueFlag(flag)) throw new UsageError(`unknown option ${arg}`);
    let value: string | undefined;
    if (equals !== -1) {
      value = arg.slice(equals + 1);
      index += 1;
    } else {
      value = argv[index + 1];
      index += 2;
    }
    if (value === undefined || value === '' || value === '--') throw new UsageError(`${flag} needs a value`);
    try {
      applyValue(flag, value, env, cwd);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const command = argv.slice(index);
  if (command.length === 0) throw new UsageError('no command given: put it after --, e.g. loopguard -- node app.js');
  return { action: 'run', command, env };
}

/**
 * Run after register, as a second preload: holds the app back until the monitor's watchdog
 * thread is watching (at most 2 s), so the app's start-up is watched with stacks. It is ESM
 * with top-level await, which only a data: URL lets us ship without a build of its own.
 * The interval keeps the loop alive meanwhile (the watchdog is unref'd).
 */
const WAIT_FOR_WATCHDOG = `
const ready = globalThis[Symbol.for('${globalKey('registerReady')}')];
if (ready !== undefined) {
  const keepAlive = setInterval(() => {}, 1000);
  await Promise.race([ready, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  clearInterval(keepAlive);
}`;

// encodeURIComponent leaves ' ( ) ! * ~ alone; encode them too, so no shell or NODE_OPTIONS
// quoting rule can ever apply to the URL.
export const WAIT_FOR_WATCHDOG_URL = `data:text/javascript,${encodeURIComponent(WAIT_FOR_WATCHDOG.trim()).replace(
  /['()!*~]/g,
  (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
)}`;

/** NODE_OPTIONS with the register preloads appended (the user's own options are kept first). */
export function withPreload(nodeOptions: string | undefined, registerUrl: string): string {
  const preload = `--import ${registerUrl} --import ${WAIT_FOR_WATCHDOG_URL}`;
  return nodeOptions === undefined || nodeOptions.trim() === '' ? preload : `${nodeOptions} ${preload}`;
}
