/**
 * The `loopguard` command line: flags are validated with the same rules as the LOOPGUARD_*
 * variables register reads (settings.ts), then handed to the child as those variables.
 */
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ENV_VARIABLES, parseChoice, parseMs, parseReport, parseRequestContext, WORKER_VARIABLES, type EnvName } from './settings.js';
import { globalKey } from '../shared/globals.js';
import { InvalidOptionRangeError, InvalidOptionTypeError } from '../errors.js';

export const USAGE = `Usage: loopguard [options] -- <command> [args...]
       loopguard worker <modules...> --queue <url> --name <queue>   (see loopguard worker --help)

Runs <command> (usually \`node app.js\`) with loopguard preloaded: blocks of the event loop
are reported as they happen, with their stack and request, and a summary (delay percentiles,
top blockers) is printed when the process ends. The app needs no change. Works for ESM and
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
  --request-context <mode>  auto | true | false: a context per request, so blocks in setImmediate/
                            callback continuations name it (default auto: on Node 24+)
  -h, --help                show this help
  -v, --version             show the version

SIGTERM and SIGHUP are passed on to the command, and SIGINT when not on a terminal (there
Ctrl-C reaches the command by itself). loopguard prints the summary however the command ends
(even on SIGKILL or out of memory) and exits with its exit code, or dies by the same signal.
Under a process manager run this bin directly, not through npx (npx does not pass signals on).
Example:
  npx loopguard --threshold 50 --report report.html -- node server.js

Without the CLI: node --import loopguard/register app.js (or -r for CommonJS), configured by
${Object.entries(ENV_VARIABLES)
  .map(([name, meaning]) => `  ${name.padEnd(25)} ${meaning}`)
  .join('\n')}
`;

/** A mistake in the command line's syntax: printed with the usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type CliRequest =
  | { action: 'help' }
  | { action: 'version' }
  | { action: 'worker-help' }
  | { action: 'worker'; worker: WorkerCliOptions }
  | {
      action: 'run';
      command: string[];
      env: Partial<Record<EnvName, string>>;
    };

const OPTIONS = {
  threshold: { type: 'string' },
  'sync-calls': { type: 'string' },
  report: { type: 'string' },
  log: { type: 'string' },
  'hang-timeout': { type: 'string' },
  'exit-timeout': { type: 'string' },
  'track-handles': { type: 'boolean' },
  'no-summary': { type: 'boolean' },
  'request-context': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const satisfies ParseArgsConfig['options'];

/** The flag each variable is set by, for messages about a value given on the command line. */
export const FLAG_OF: Record<EnvName, string> = {
  LOOPGUARD_THRESHOLD: '--threshold',
  LOOPGUARD_SYNC_CALLS: '--sync-calls',
  LOOPGUARD_REPORT: '--report',
  LOOPGUARD_LOG: '--log',
  LOOPGUARD_HANG_TIMEOUT: '--hang-timeout',
  LOOPGUARD_EXIT_TIMEOUT: '--exit-timeout',
  LOOPGUARD_TRACK_HANDLES: '--track-handles',
  LOOPGUARD_SUMMARY: '--no-summary',
  LOOPGUARD_REQUEST_CONTEXT: '--request-context',
};

/**
 * Where loopguard's options end and the command begins: at `--`, or at the first argument that
 * is not an option or an option's value (so `loopguard node app.js --port 3` works too).
 * parseArgs cannot stop at the first positional itself, so a lenient pass finds it.
 */
function commandStart(argv: readonly string[]): { options: string[]; command: string[] } {
  const { tokens } = parseArgs({ args: [...argv], options: OPTIONS, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'option-terminator') return { options: argv.slice(0, token.index), command: argv.slice(token.index + 1) };
    if (token.kind === 'positional') return { options: argv.slice(0, token.index), command: argv.slice(token.index) };
  }
  return { options: [...argv], command: [] };
}

/** parseArgs' messages are long and name `--flag <value>`; ours are one short line. */
function usageError(error: unknown, options: readonly string[]): UsageError {
  const code = (error as { code?: unknown }).code;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const { tokens } = parseArgs({ args: [...options], options: OPTIONS, strict: false, tokens: true });
    const unknown = tokens.find((token) => token.kind === 'option' && !(token.name in OPTIONS));
    return new UsageError(`unknown option ${unknown?.kind === 'option' ? unknown.rawName : String(error)}`);
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const flag = /'(-[^' ]+)/.exec((error as Error).message)?.[1] ?? 'an option';
    const { tokens } = parseArgs({ args: [...options], options: OPTIONS, strict: false, tokens: true });
    const token = tokens.find((candidate) => candidate.kind === 'option' && candidate.rawName === flag);
    const type = token?.kind === 'option' ? OPTIONS[token.name as keyof typeof OPTIONS]?.type : undefined;
    return new UsageError(type === 'boolean' ? `${flag} takes no value` : `${flag} needs a value`);
  }
  return new UsageError((error as Error).message);
}

/**
 * Parse `argv` (without node and the script). Throws UsageError for the syntax (usage, exit 2)
 * and the settings' own option error for a bad value (one line, exit 9, as register does).
 */
export function parseCliArgs(argv: readonly string[], cwd = process.cwd(), environment: NodeJS.ProcessEnv = process.env): CliRequest {
  // Only as the very first word: `loopguard -- worker` (a command named worker) still runs it.
  if (argv[0] === 'worker') return parseWorkerArgs(argv.slice(1), environment);
  const { options, command } = commandStart(argv);
  let values;
  try {
    ({ values } = parseArgs({ args: options, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw usageError(error, options);
  }
  if (values.help === true) return { action: 'help' };
  if (values.version === true) return { action: 'version' };
  const env: Partial<Record<EnvName, string>> = {};
  for (const [flag, value] of [
    ['--threshold', values.threshold],
    ['--hang-timeout', values['hang-timeout']],
    ['--exit-timeout', values['exit-timeout']],
    ['--sync-calls', values['sync-calls']],
    ['--log', values.log],
    ['--report', values.report],
    ['--request-context', values['request-context']],
  ] as const) {
    if (value === '') throw new UsageError(`${flag} needs a value`);
  }
  if (values.threshold !== undefined) env.LOOPGUARD_THRESHOLD = String(parseMs('--threshold', values.threshold, 1));
  if (values['hang-timeout'] !== undefined) {
    env.LOOPGUARD_HANG_TIMEOUT = String(parseMs('--hang-timeout', values['hang-timeout'], 0));
  }
  if (values['exit-timeout'] !== undefined) {
    env.LOOPGUARD_EXIT_TIMEOUT = String(parseMs('--exit-timeout', values['exit-timeout'], 0));
  }
  if (values['sync-calls'] !== undefined) {
    env.LOOPGUARD_SYNC_CALLS = String(parseChoice('--sync-calls', values['sync-calls'], ['warn', 'throw']));
  }
  if (values.log !== undefined) env.LOOPGUARD_LOG = String(parseChoice('--log', values.log, ['pretty', 'json']));
  // Absolute, so the report lands where the user ran loopguard whatever the child does.
  if (values.report !== undefined) env.LOOPGUARD_REPORT = resolve(cwd, parseReport('--report', values.report).path);
  if (values['track-handles'] === true) env.LOOPGUARD_TRACK_HANDLES = 'true';
  if (values['no-summary'] === true) env.LOOPGUARD_SUMMARY = 'false';
  if (values['request-context'] !== undefined) {
    env.LOOPGUARD_REQUEST_CONTEXT = String(parseRequestContext('--request-context', values['request-context']));
  }
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
const WAIT_FOR_WATCHDOG_URL = `data:text/javascript,${encodeURIComponent(WAIT_FOR_WATCHDOG.trim()).replace(
  /['()!*~]/g,
  (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
)}`;

/** NODE_OPTIONS with the register preloads appended (the user's own options are kept first). */
export function withPreload(nodeOptions: string | undefined, registerUrl: string): string {
  const preload = `--import ${registerUrl} --import ${WAIT_FOR_WATCHDOG_URL}`;
  return nodeOptions === undefined || nodeOptions.trim() === '' ? preload : `${nodeOptions} ${preload}`;
}

export const WORKER_USAGE = `Usage: loopguard worker <modules...> --queue <url> --name <queue> [options]

Runs the jobs of a loopguard/queue queue: imports <modules...> (paths or file: URLs, the modules
that mark the job functions with threaded()) and runs each job's function in a thread pool of
its own, so this process's event loop stays free to renew the jobs' leases. One JSON line on
stderr per job start and settle; the monitor runs as under \`loopguard --\` (LOOPGUARD_* variables).

Options:
  --queue <url>             postgres://... (pg-boss) or redis://... (BullMQ); default $LOOPGUARD_QUEUE_URL
                            (the environment keeps a password out of \`ps\`)
  --name <queue>            the queue's name, as given to createQueue()
  --concurrency <n>         jobs run at once (default 1)
  --threads <n>             threads of the worker's pool, at most --concurrency (default --concurrency);
                            0: run the jobs inline on this process's event loop, for jobs that only
                            await I/O (a job that blocks the loop stalls every job's lease)
  --drain-timeout <ms>      on SIGTERM/SIGINT, how long active jobs may run on before they are given
                            back to the queue (default 30000)
  --timeout <ms>            the queue's default job timeout, as given to createQueue(): the worker
                            looks for jobs of dead workers every half of it (default 60000)
  --max-payload <bytes>     largest result, serialised (default 1048576)
  -h, --help                show this help

SIGTERM or SIGINT: stop taking jobs, let the active ones finish within --drain-timeout, close
the connection and exit 0; a second signal ends the worker at once. Under a process manager
run this bin directly, not through npx (npx does not pass signals on).
Example:
  LOOPGUARD_QUEUE_URL=postgres://app@db/app npx loopguard worker ./dist/tasks.js --name reports --concurrency 4
`;

/** What `loopguard worker` runs: startWorker()'s options, from the command line. */
export interface WorkerCliOptions {
  url: string;
  name: string;
  modules: string[];
  concurrency: number;
  threads: number;
  drainTimeout: number;
  timeout?: number;
  maxPayload?: number;
}

const QUEUE_URL_ENV: keyof typeof WORKER_VARIABLES = 'LOOPGUARD_QUEUE_URL';

const WORKER_OPTIONS = {
  queue: { type: 'string' },
  name: { type: 'string' },
  concurrency: { type: 'string' },
  threads: { type: 'string' },
  'drain-timeout': { type: 'string' },
  timeout: { type: 'string' },
  'max-payload': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

function parseWorkerArgs(argv: readonly string[], env: NodeJS.ProcessEnv): CliRequest {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], options: WORKER_OPTIONS, strict: true, allowPositionals: true }));
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const { tokens } = parseArgs({ args: [...argv], options: WORKER_OPTIONS, strict: false, allowPositionals: true, tokens: true });
      const unknown = tokens.find((token) => token.kind === 'option' && !(token.name in WORKER_OPTIONS));
      throw new UsageError(`unknown option ${unknown?.kind === 'option' ? unknown.rawName : String(error)} for loopguard worker`);
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const flag = /'(-[^' ]+)/.exec((error as Error).message)?.[1] ?? 'an option';
      throw new UsageError(flag === '-h' || flag === '--help' ? `${flag} takes no value` : `${flag} needs a value`);
    }
    throw new UsageError((error as Error).message);
  }
  if (values.help === true) return { action: 'worker-help' };
  for (const flag of ['queue', 'name', 'concurrency', 'threads', 'drain-timeout', 'timeout', 'max-payload'] as const) {
    if (values[flag] === '') throw new UsageError(`--${flag} needs a value`);
  }
  if (positionals.length === 0) throw new UsageError('loopguard worker needs the modules that mark the job functions, e.g. loopguard worker ./dist/tasks.js');
  const fromEnv = env[QUEUE_URL_ENV]?.trim();
  const url = values.queue ?? (fromEnv === '' ? undefined : fromEnv);
  if (url === undefined) throw new UsageError(`loopguard worker needs --queue <url> (or ${QUEUE_URL_ENV})`);
  if (values.name === undefined) throw new UsageError('loopguard worker needs --name <queue>');
  const concurrency = values.concurrency === undefined ? 1 : parseCount('--concurrency', values.concurrency, 1, 10_000);
  const threads = values.threads === undefined ? Math.min(concurrency, 256) : parseCount('--threads', values.threads, 0, 256);
  if (threads > concurrency) {
    throw new InvalidOptionRangeError(
      `--threads must be <= --concurrency (${concurrency}): a job runs on one thread, got ${JSON.stringify(values.threads)}`,
    );
  }
  const drainTimeout = values['drain-timeout'] === undefined ? 30_000 : Math.round(parseMs('--drain-timeout', values['drain-timeout'], 0));
  if (drainTimeout > 2 ** 31 - 1) {
    throw new InvalidOptionRangeError(`--drain-timeout must be a number of ms <= 2147483647, got ${JSON.stringify(values['drain-timeout'])}`);
  }
  const worker: WorkerCliOptions = { url, name: values.name, modules: positionals, concurrency, threads, drainTimeout };
  if (values.timeout !== undefined) worker.timeout = parseCount('--timeout', values.timeout, 1, 2 ** 31 - 1);
  if (values['max-payload'] !== undefined) worker.maxPayload = parseCount('--max-payload', values['max-payload'], 1, 2 ** 31 - 1);
  return { action: 'worker', worker };
}

/** A whole number from `min` to `max`. */
function parseCount(name: string, raw: string, min: number, max: number): number {
  const number = /^[0-9]+$/.test(raw) ? Number(raw) : Number.NaN;
  if (Number.isNaN(number)) {
    throw new InvalidOptionTypeError(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  if (number < min || number > max) {
    throw new InvalidOptionRangeError(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return number;
}
