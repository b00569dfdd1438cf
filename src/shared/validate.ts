import { InvalidOptionRangeError, InvalidOptionTypeError } from '../errors.js';

/** Describe a received value for an error message: ``"100"` (string)`, `NaN`, `null`. */
export function describeValue(value: unknown): string {
  if (value === null) return '`null`';
  if (value === undefined) return '`undefined`';
  if (typeof value === 'function') return `a function`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return `\`${String(value)}\` (${typeof value})`;
  }
  if (typeof value === 'string') return `\`${JSON.stringify(value)}\` (string)`;
  if (Array.isArray(value)) return 'an array';
  return `\`${Object.prototype.toString.call(value)}\``;
}

interface NumberRule {
  min?: number;
  max?: number;
  integer?: boolean;
  /** Accept `Infinity` even though it is not finite. */
  infinity?: boolean;
}

/**
 * Throw a TypeError (wrong type) or RangeError (out of range) naming the option, e.g.
 * ``threshold must be a number >= 1, got `"100"` (string)``. Returns the value unchanged.
 */
export function checkNumber(name: string, value: unknown, rule: NumberRule = {}): number {
  const wanted = describeRule(rule);
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new InvalidOptionTypeError(`${name} must be ${wanted}, got ${describeValue(value)}`);
  }
  const finiteOk = Number.isFinite(value) || (rule.infinity === true && value === Infinity);
  if (
    !finiteOk ||
    (rule.integer === true && Number.isFinite(value) && !Number.isInteger(value)) ||
    (rule.min !== undefined && value < rule.min) ||
    (rule.max !== undefined && value > rule.max)
  ) {
    throw new InvalidOptionRangeError(`${name} must be ${wanted}, got ${describeValue(value)}`);
  }
  return value;
}

function describeRule(rule: NumberRule): string {
  let text = rule.integer === true ? 'an integer' : 'a number';
  if (rule.min !== undefined && rule.max !== undefined) text += ` from ${rule.min} to ${rule.max}`;
  else if (rule.min !== undefined) text += ` >= ${rule.min}`;
  else if (rule.max !== undefined) text += ` <= ${rule.max}`;
  if (rule.infinity === true) text += ' (or Infinity)';
  return text;
}

export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new InvalidOptionTypeError(`${name} must be a boolean, got ${describeValue(value)}`);
  }
  return value;
}

export function checkFunction<T extends (...args: never[]) => unknown>(name: string, value: unknown): T {
  if (typeof value !== 'function') {
    throw new InvalidOptionTypeError(`${name} must be a function, got ${describeValue(value)}`);
  }
  return value as T;
}

export function checkString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new InvalidOptionTypeError(`${name} must be a non-empty string, got ${describeValue(value)}`);
  }
  return value;
}

/** One of a fixed set of literals, e.g. `syncCalls` ∈ `'warn' | 'throw' | false`. */
export function checkOneOf<T>(name: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    const list = allowed.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(', ');
    throw new InvalidOptionTypeError(`${name} must be one of ${list}, got ${describeValue(value)}`);
  }
  return value as T;
}

/** Options must be a plain object (or undefined); unknown keys are refused so typos surface. */
export function checkOptionsObject(
  name: string,
  value: unknown,
  known: readonly string[],
): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionTypeError(`${name} must be an object, got ${describeValue(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new InvalidOptionTypeError(
        `${name} has an unknown option \`${key}\`; known options are ${known.join(', ')}`,
      );
    }
  }
  return value as Record<string, unknown>;
}
