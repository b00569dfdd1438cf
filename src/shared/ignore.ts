/**
 * The `ignore` allow-list (BlockHound's `allowBlockingCallsInside`): an event it matches is
 * neither reported nor thrown. One validation and one matcher serve the monitor's block
 * events and the sync-call policy, so a rule means the same to both.
 */
import { InvalidOptionTypeError } from '../errors.js';
import { checkOptionsObject, describeValue } from './validate.js';
import type { BlockEvent, IgnoreRules } from '../types.js';
import { routeOf } from './frames.js';

export type IgnoreOption = ((event: BlockEvent) => boolean) | IgnoreRules;

const RULE_KEYS = ['functions', 'files', 'routes'] as const;

/** Throw an `ERR_LOOPGUARD_INVALID_OPTION` TypeError unless `value` is a valid `ignore`. */
export function checkIgnore(name: string, value: unknown): IgnoreOption | undefined {
  if (value === undefined || typeof value === 'function') return value as IgnoreOption | undefined;
  const rules = checkOptionsObject(name, value, RULE_KEYS);
  for (const key of RULE_KEYS) {
    const list = rules[key];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      throw new InvalidOptionTypeError(
        `${name}.${key} must be an array of strings or RegExps, got ${describeValue(list)}`,
      );
    }
    list.forEach((pattern: unknown, index) => {
      if (typeof pattern !== 'string' && !(pattern instanceof RegExp)) {
        throw new InvalidOptionTypeError(
          `${name}.${key}[${index}] must be a string or a RegExp, got ${describeValue(pattern)}`,
        );
      }
    });
  }
  return value as IgnoreRules;
}

/**
 * Whether `ignore` covers `event`, a block or a sync call alike. With rule lists, any one match
 * is enough:
 * - `functions`: a frame's function name — as printed (`Router.handle`) or its last parts
 *   (`handle`) — or the blocking API (`'fs.readFileSync'`); a string must be equal;
 * - `files`: a frame's file; a string matches when the path contains it
 *   (`'node_modules/uuid/'`);
 * - `routes`: the context's `route`, `path`, or `'METHOD /route'`; a string must be equal.
 * RegExps are tested against the same values. Every frame counts, not only the first, so a
 * library can be allowed wherever it is called from. A predicate that throws throws here.
 */
export function isIgnored(ignore: IgnoreOption | undefined, event: BlockEvent): boolean {
  if (ignore === undefined) return false;
  if (typeof ignore === 'function') return ignore(event) === true;
  const { functions, files, routes } = ignore;
  if (functions !== undefined && functions.length > 0) {
    if (event.call !== undefined && matchesAny(functions, event.call, equals)) return true;
    for (const frame of event.stack) {
      const name = frame.function;
      if (matchesAny(functions, name, equalsOrEndsWith)) return true;
      const short = name.slice(name.lastIndexOf('.') + 1);
      if (short !== name && matchesAny(functions, short, equals)) return true;
    }
  }
  if (files !== undefined && files.length > 0) {
    for (const frame of event.stack) {
      if (matchesAny(files, frame.file, contains)) return true;
      // Windows paths: let `'node_modules/uuid/'` match `node_modules\uuid\` as well.
      const slashed = frame.file.replaceAll('\\', '/');
      if (slashed !== frame.file && matchesAny(files, slashed, contains)) return true;
    }
  }
  if (routes !== undefined && routes.length > 0 && event.context !== undefined) {
    const { route, path } = event.context;
    for (const value of [route, path, routeOf(event.context)]) {
      if (typeof value === 'string' && matchesAny(routes, value, equals)) return true;
    }
  }
  return false;
}

function equals(value: string, pattern: string): boolean {
  return value === pattern;
}

/** `'handle'` or `'Router.handle'` for a frame printed as `Layer.Router.handle`. */
function equalsOrEndsWith(value: string, pattern: string): boolean {
  return value === pattern || value.endsWith(`.${pattern}`);
}

function contains(value: string, pattern: string): boolean {
  return value.includes(pattern);
}

function matchesAny(
  patterns: ReadonlyArray<string | RegExp>,
  value: string,
  matchString: (value: string, pattern: string) => boolean,
): boolean {
  for (const pattern of patterns) {
    if (typeof pattern === 'string' ? matchString(value, pattern) : testRegExp(pattern, value)) return true;
  }
  return false;
}

// A /g or /y RegExp keeps `lastIndex` between calls, which would make matching alternate.
function testRegExp(pattern: RegExp, value: string): boolean {
  pattern.lastIndex = 0;
  return pattern.test(value);
}
