/**
 * Zero-code settings: the `LOOPGUARD_*` environment variables read by `loopguard/register`.
 * The CLI validates its flags with the same rules (then passes them on as these variables),
 * so a bad value gets the same message whichever way it was given.
 */
import { InvalidOptionRangeError, InvalidOptionTypeError } from '../errors.js';

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
}

export const DEFAULT_EXIT_TIMEOUT = 3000;

/** Every variable register reads, with the value it expects (for messages and --help). */
export const ENV_VARIABLES = {
  LOOPGUARD_THRESHOLD: 'ms a synchronous stretch may run before it counts as a block (default 100)',
  LOOPGUARD_LOG: "'pretty' | 'json' | 'false' (default: pretty on a TTY or outside production)",
  LOOPGUARD_SYNC_CALLS: "'warn' | 'throw' | 'false' (default false)",
  LOOPGUARD_REPORT: 'file.html or file.json written at exit',
  LOOPGUARD_HANG_TIMEOUT: 'ms before a block still in progress is reported; 0 = off (default 5000)',
  LOOPGUARD_EXIT_TIMEOUT: 'ms after SIGINT/SIGTERM before explaining what keeps the process alive; 0 = off (default 3000)',
  LOOPGUARD_TRACK_HANDLES: "'true' to record where each handle is created (slow: for debugging exits)",
  LOOPGUARD_SUMMARY: "'false' to skip the summary printed at exit (default true)",
} as const;

export type EnvName = keyof typeof ENV_VARIABLES;

/** Parse and validate the LOOPGUARD_* variables; throws an option error naming the variable. */
export function readSettings(env: NodeJS.ProcessEnv): ZeroCodeSettings {
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
  if (threshold !== undefined) settings.threshold = parseMs('LOOPGUARD_THRESHOLD', threshold, 1);
  const hangTimeout = value('LOOPGUARD_HANG_TIMEOUT');
  if (hangTimeout !== undefined) settings.hangTimeout = parseMs('LOOPGUARD_HANG_TIMEOUT', hangTimeout, 0);
  const exitTimeout = value('LOOPGUARD_EXIT_TIMEOUT');
  if (exitTimeout !== undefined) settings.exitTimeout = parseMs('LOOPGUARD_EXIT_TIMEOUT', exitTimeout, 0);
  const log = value('LOOPGUARD_LOG');
  if (log !== undefined) settings.log = parseChoice('LOOPGUARD_LOG', log, ['pretty', 'json']);
  const syncCalls = value('LOOPGUARD_SYNC_CALLS');
  if (syncCalls !== undefined) settings.syncCalls = parseChoice('LOOPGUARD_SYNC_CALLS', syncCalls, ['warn', 'throw']);
  const report = value('LOOPGUARD_REPORT');
  if (report !== undefined) settings.report = parseReport('LOOPGUARD_REPORT', report);
  const track = value('LOOPGUARD_TRACK_HANDLES');
  if (track !== undefined) settings.trackHandles = parseFlag('LOOPGUARD_TRACK_HANDLES', track);
  const summary = value('LOOPGUARD_SUMMARY');
  if (summary !== undefined) settings.summary = parseFlag('LOOPGUARD_SUMMARY', summary);
  return settings;
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

export function parseFlag(name: string, raw: string): boolean {
  const lower = raw.toLowerCase();
  if (['1', 'true', 'on', 'yes'].includes(lower)) return true;
  if (['0', 'false', 'off', 'no'].includes(lower)) return false;
  throw new InvalidOptionTypeError(`${name} must be 'true' or 'false', got ${JSON.stringify(raw)}`);
}

/** The report's format comes from its extension, so a typo cannot silently pick one. */
export function parseReport(name: string, raw: string): { path: string; format: ReportFormat } {
  const lower = raw.toLowerCase();
  if (lower.endsWith('.html') || lower.endsWith('.htm')) return { path: raw, format: 'html' };
  if (lower.endsWith('.json')) return { path: raw, format: 'json' };
  throw new InvalidOptionTypeError(`${name} must be a file name ending in .html or .json, got ${JSON.stringify(raw)}`);
}
