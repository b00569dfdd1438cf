/** Validation of `startMonitor()` options, all up front, each message naming the option. */
import { InvalidOptionRangeError, InvalidOptionTypeError } from '../errors.js';
import {
  checkBoolean,
  checkFunction,
  checkNumber,
  checkOneOf,
  checkOptionsObject,
  describeValue,
} from '../shared/validate.js';
import type { BlockEvent, IgnoreRules, Logger, MonitorOptions } from '../types.js';
import { checkIgnore } from '../shared/ignore.js';

export interface ResolvedMonitorOptions {
  threshold: number;
  stacks: boolean;
  hangTimeout: number;
  sourceMaps: boolean;
  log: 'pretty' | 'json' | false | Logger;
  dedupe: number;
  http: boolean;
  requestContext: 'auto' | boolean;
  syncCalls: 'warn' | 'throw' | false;
  nativeCalls: boolean;
  libuv: boolean;
  ignore: ((event: BlockEvent) => boolean) | IgnoreRules | undefined;
  onBlock: ((event: BlockEvent) => void) | undefined;
}

const KNOWN = [
  'threshold',
  'stacks',
  'hangTimeout',
  'sourceMaps',
  'log',
  'dedupe',
  'http',
  'requestContext',
  'syncCalls',
  'nativeCalls',
  'libuv',
  'ignore',
  'onBlock',
] as const;

/** `'pretty'` on a terminal or outside production, `'json'` for log pipelines. */
function defaultLog(): 'pretty' | 'json' {
  return process.stderr.isTTY === true || process.env['NODE_ENV'] !== 'production' ? 'pretty' : 'json';
}

/**
 * An unset hangTimeout follows the threshold: 5000 ms, or twice the threshold when that is
 * longer, so that a large threshold (`threshold: 6000`) needs no hangTimeout of its own and a
 * hang is always a block that ran well past the point where it counted as one.
 */
function defaultHangTimeout(threshold: number): number {
  return Math.max(5000, 2 * threshold);
}

export function resolveMonitorOptions(options: MonitorOptions | undefined): ResolvedMonitorOptions {
  const given = checkOptionsObject('options', options, KNOWN);
  const threshold = given['threshold'] === undefined ? 100 : checkNumber('threshold', given['threshold'], { min: 1 });
  const hangTimeout =
    given['hangTimeout'] === undefined
      ? defaultHangTimeout(threshold)
      : checkNumber('hangTimeout', given['hangTimeout'], { min: 0 });
  // A hang is a block still under way at hangTimeout: at or below the threshold it would be
  // reported before it even counted as a block.
  if (hangTimeout !== 0 && hangTimeout <= threshold) {
    throw new InvalidOptionRangeError(
      `hangTimeout must be 0 or a number > threshold (${threshold}), got ${describeValue(hangTimeout)}`,
    );
  }
  const syncCalls =
    given['syncCalls'] === undefined ? false : checkOneOf('syncCalls', given['syncCalls'], ['warn', 'throw', false] as const);
  const nativeCalls = given['nativeCalls'] === undefined ? true : checkBoolean('nativeCalls', given['nativeCalls']);
  if (!nativeCalls && syncCalls !== false) {
    // The policy works by wrapping the same built-ins that nativeCalls: false promises to leave alone.
    throw new InvalidOptionRangeError(
      `nativeCalls: false cannot be combined with syncCalls '${syncCalls}', which wraps the same built-ins; got nativeCalls ${describeValue(false)}`,
    );
  }
  return {
    threshold,
    hangTimeout,
    stacks: given['stacks'] === undefined ? true : checkBoolean('stacks', given['stacks']),
    sourceMaps: given['sourceMaps'] === undefined ? true : checkBoolean('sourceMaps', given['sourceMaps']),
    log: given['log'] === undefined ? defaultLog() : checkLog(given['log']),
    dedupe: given['dedupe'] === undefined ? 60_000 : checkNumber('dedupe', given['dedupe'], { min: 0 }),
    http: given['http'] === undefined ? true : checkBoolean('http', given['http']),
    requestContext:
      given['requestContext'] === undefined
        ? 'auto'
        : checkOneOf('requestContext', given['requestContext'], ['auto', true, false] as const),
    syncCalls,
    nativeCalls,
    libuv: given['libuv'] === undefined ? true : checkBoolean('libuv', given['libuv']),
    ignore: checkIgnore('ignore', given['ignore']),
    onBlock: given['onBlock'] === undefined ? undefined : checkFunction<(event: BlockEvent) => void>('onBlock', given['onBlock']),
  };
}

function checkLog(value: unknown): 'pretty' | 'json' | false | Logger {
  if (typeof value === 'object' && value !== null && typeof (value as Logger).warn === 'function') {
    return value as Logger;
  }
  if (value === 'pretty' || value === 'json' || value === false) return value;
  throw new InvalidOptionTypeError(
    `log must be one of 'pretty', 'json', false or a logger with a warn(obj, msg) method, got ${describeValue(value)}`,
  );
}
