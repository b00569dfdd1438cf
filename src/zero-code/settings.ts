/**
 * Zero-code settings: the `LOOPGUARD_*` environment variables read by `loopguard/register`.
 * The CLI validates its flags with the same rules (then passes them on as these variables),
 * so a bad value gets the same message whichever way it was given.
 */
import { InvalidOptionRangeError, InvalidOptionTypeError } from '../errors.js';
import { STREAM_ENV } from '../shared/cli-stream.js';
import type { MonitorOptions } from '../types.js';

export type ReportFormat = 'html' | 'json';

export interface ZeroCodeSettings {
  threshold?: number;
  log?: 'pretty' | 'json' | false;
  syncCalls?: 'warn' | 'throw' | false;
  /** Absolute or cwd-relative path; its extension picks the format. */
  report?: { path: string; format: ReportFormat };
  hangTimeout?: number;
  /** ms after SIGINT/SIGTERM before explaining what keeps the process alive; 0 = off. */
  exitTimeout: number;
  /** Record where each handle was created (why-is-node-running's async hook: costly). */
  trackHandles: boolean;
  /** Print the summary table at exit. */
  summary: boolean;
  /** The monitor's requestContext: a context per request ('auto': where AsyncContextFrame makes it cheap). */
  requestContext?: 'auto' | boolean;
}

const DEFAULT_EXIT_TIMEOUT = 3000;

/** Every variable register reads, with the value it expects (for messages and --help). */
export const ENV_VARIABLES = {
  LOOPGUARD_THRESHOLD: 'ms a synchronous stretch may run before it counts as a block (default 100)',
  LOOPGUARD_LOG: "'pretty' | 'json' | 'false' (default: pretty on a TTY or outside production)",
  LOOPGUARD_SYNC_CALLS: "'warn' | 'throw' | 'false' (default false)",
  LOOPGUARD_REPORT: 'file.html or file.json written at exit',
  LOOPGUARD_HANG_TIMEOUT: 'ms before a block still in progress is reported; 0 = off (default 5000, or twice the threshold when that is longer)',
  LOOPGUARD_EXIT_TIMEOUT: 'ms after SIGINT/SIGTERM before explaining what keeps the process alive; 0 = off (default 3000)',
  LOOPGUARD_TRACK_HANDLES: "'true' to record where each handle is created (slow: for debugging exits)",
  LOOPGUARD_SUMMARY: "'false' to skip the summary printed at exit (default true)",
  LOOPGUARD_REQUEST_CONTEXT:
    "'auto' | 'true' | 'false': an AsyncLocalStorage context per request, so blocks in setImmediate/callback/emitter continuations name it (default auto: on where AsyncContextFrame makes it cheap, Node 24+)",
} as const;

export type EnvName = keyof typeof ENV_VARIABLES;

/** Read by `loopguard worker`, not by register: known, so never warned about as a typo. */
export const WORKER_VARIABLES = {
  LOOPGUARD_QUEUE_URL: "the queue's URL, the default of loopguard worker's --queue",
} as const;

/**
 * Parse and validate the LOOPGUARD_* variables; throws an option error naming the variable
 * (or what `nameOf` calls it: the CLI names the flag a value came from).
 */
export function readSettings(env: NodeJS.ProcessEnv, nameOf: (name: EnvName) => string = (name) => name): ZeroCodeSettings {
  const settings: ZeroCodeSettings = {
    exitTimeout: DEFAULT_EXIT_TIMEOUT,
    trackHandles: false,
    summary: true,
  };
  const value = (name: EnvName): string | undefined => {
    const raw = env[name];
    return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
  };
  const threshold = value('LOOPGUARD_THRESHOLD');
  if (threshold !== undefined) settings.threshold = parseMs(nameOf('LOOPGUARD_THRESHOLD'), threshold, 1);
  const hangTimeout = value('LOOPGUARD_HANG_TIMEOUT');
  if (hangTimeout !== undefined) settings.hangTimeout = parseMs(nameOf('LOOPGUARD_HANG_TIMEOUT'), hangTimeout, 0);
  // The monitor refuses this pair too, but its message names options this user never wrote.
  if (
    settings.hangTimeout !== undefined &&
    settings.hangTimeout !== 0 &&
    settings.threshold !== undefined &&
    settings.hangTimeout <= settings.threshold
  ) {
    throw new InvalidOptionRangeError(
      `${nameOf('LOOPGUARD_HANG_TIMEOUT')} must be 0 or a number of ms > ${nameOf('LOOPGUARD_THRESHOLD')} (${settings.threshold}), got ${JSON.stringify(hangTimeout)}`,
    );
  }
  const exitTimeout = value('LOOPGUARD_EXIT_TIMEOUT');
  if (exitTimeout !== undefined) settings.exitTimeout = parseMs(nameOf('LOOPGUARD_EXIT_TIMEOUT'), exitTimeout, 0);
  const log = value('LOOPGUARD_LOG');
  if (log !== undefined) settings.log = parseChoice(nameOf('LOOPGUARD_LOG'), log, ['pretty', 'json']);
  const syncCalls = value('LOOPGUARD_SYNC_CALLS');
  if (syncCalls !== undefined) settings.syncCalls = parseChoice(nameOf('LOOPGUARD_SYNC_CALLS'), syncCalls, ['warn', 'throw']);
  const report = value('LOOPGUARD_REPORT');
  if (report !== undefined) settings.report = parseReport(nameOf('LOOPGUARD_REPORT'), report);
  const track = value('LOOPGUARD_TRACK_HANDLES');
  if (track !== undefined) settings.trackHandles = parseFlag(nameOf('LOOPGUARD_TRACK_HANDLES'), track);
  const summary = value('LOOPGUARD_SUMMARY');
  if (summary !== undefined) settings.summary = parseFlag(nameOf('LOOPGUARD_SUMMARY'), summary);
  const requestContext = value('LOOPGUARD_REQUEST_CONTEXT');
  if (requestContext !== undefined) {
    settings.requestContext = parseRequestContext(nameOf('LOOPGUARD_REQUEST_CONTEXT'), requestContext);
  }
  return settings;
}

/** The monitor's options for these settings (what register starts, what the CLI checks first). */
export function monitorOptions(settings: ZeroCodeSettings): MonitorOptions {
  const options: MonitorOptions = {};
  if (settings.threshold !== undefined) options.threshold = settings.threshold;
  if (settings.hangTimeout !== undefined) options.hangTimeout = settings.hangTimeout;
  if (settings.log !== undefined) options.log = settings.log;
  if (settings.syncCalls !== undefined) options.syncCalls = settings.syncCalls;
  if (settings.requestContext !== undefined) options.requestContext = settings.requestContext;
  return options;
}

/** An option error from loopguard (either build): its message is meant for the user as it is. */
export function isSettingError(error: unknown): error is Error {
  return error instanceof Error && (error as { code?: unknown }).code === 'ERR_LOOPGUARD_INVALID_OPTION';
}

/**
 * One warning per LOOPGUARD_* variable that loopguard does not read, naming the closest one
 * it does: a typo would otherwise leave a setting silently at its default.
 */
export function unknownVariableWarnings(env: NodeJS.ProcessEnv): string[] {
  const known: readonly string[] = [...Object.keys(ENV_VARIABLES), ...Object.keys(WORKER_VARIABLES), STREAM_ENV];
  const warnings: string[] = [];
  for (const name of Object.keys(env)) {
    if (!name.startsWith('LOOPGUARD_') || known.includes(name)) continue;
    const closest = closestName(name, [...Object.keys(ENV_VARIABLES), ...Object.keys(WORKER_VARIABLES)]);
    warnings.push(
      closest === undefined
        ? `loopguard: ignoring ${name}: not a loopguard variable (see npx loopguard --help)`
        : `loopguard: ignoring ${name}: not a loopguard variable; did you mean ${closest}?`,
    );
  }
  return warnings;
}

/** The candidate nearest to `name` by edit distance, if it is near enough to be a typo. */
function closestName(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(name.toUpperCase(), candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // Beyond a third of the name's own part it is another word, not a typo of this one.
  const suffix = name.length - 'LOOPGUARD_'.length;
  return bestDistance <= Math.max(2, Math.floor(suffix / 3)) ? best : undefined;
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** A whole number of ms (decimals allowed), `>= min`. */
export function parseMs(name: string, raw: string, min: number): number {
  const number = /^[0-9]+(\.[0-9]+)?$/.test(raw) ? Number(raw) : Number.NaN;
  if (Number.isNaN(number)) {
    throw new InvalidOptionTypeError(`${name} must be a number of ms >= ${min}, got ${JSON.stringify(raw)}`);
  }
  if (number < min) {
    throw new InvalidOptionRangeError(`${name} must be a number of ms >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return number;
}

/** One of `choices`, or `false` (written `false`, `off` or `0`). */
export function parseChoice<T extends string>(name: string, raw: string, choices: readonly T[]): T | false {
  const lower = raw.toLowerCase();
  if (lower === 'false' || lower === 'off' || lower === '0') return false;
  if ((choices as readonly string[]).includes(lower)) return lower as T;
  const list = [...choices, 'false'].map((choice) => `'${choice}'`).join(', ');
  throw new InvalidOptionTypeError(`${name} must be one of ${list}, got ${JSON.stringify(raw)}`);
}

function parseFlag(name: string, raw: string, also = ''): boolean {
  const lower = raw.toLowerCase();
  if (['1', 'true', 'on', 'yes'].includes(lower)) return true;
  if (['0', 'false', 'off', 'no'].includes(lower)) return false;
  throw new InvalidOptionTypeError(`${name} must be ${also}'true' or 'false', got ${JSON.stringify(raw)}`);
}

/** `auto`, or a flag: whether to open a context per request. */
export function parseRequestContext(name: string, raw: string): 'auto' | boolean {
  return raw.toLowerCase() === 'auto' ? 'auto' : parseFlag(name, raw, "'auto', ");
}

/** The report's format comes from its extension, so a typo cannot silently pick one. */
export function parseReport(name: string, raw: string): { path: string; format: ReportFormat } {
  const lower = raw.toLowerCase();
  if (lower.endsWith('.html') || lower.endsWith('.htm')) return { path: raw, format: 'html' };
  if (lower.endsWith('.json')) return { path: raw, format: 'json' };
  throw new InvalidOptionTypeError(`${name} must be a file name ending in .html or .json, got ${JSON.stringify(raw)}`);
}
