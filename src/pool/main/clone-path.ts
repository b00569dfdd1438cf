/**
 * Find where in a task's arguments a value that cannot be structured-cloned sits, so the
 * error says `args[0].socket._events.close` instead of a bare DataCloneError.
 *
 * The arguments are the caller's and may be hostile: a getter that throws (which is what made
 * the clone fail), a Proxy (never cloneable; a revoked one throws on every trap), a Proxy
 * that invents a new object on every read. So the walk never runs a trap, runs each getter
 * inside a try, and gives up after a fixed number of values; and whatever happens in it,
 * the caller gets an error to reject the task with, never an exception.
 */
import { types } from 'node:util';

/** Values looked at before giving up on a path (a Proxy-free object graph this big is rare). */
const MAX_VISITS = 10_000;
const MAX_DEPTH = 50;

/**
 * The DataCloneError a task fails with: the path of the value and the clone error as its cause.
 * `destination` and `roots` let the job queue say `result.rows[3]` … `for the queue`.
 */
export function cloneErrorFor(
  args: unknown[],
  error: unknown,
  destination = 'cloned to a worker thread',
  roots?: readonly string[],
): DOMException {
  let path: string | undefined;
  try {
    path = findUncloneable(args, roots);
  } catch {
    path = undefined; // a host object that threw in a way the walk did not foresee
  }
  const message = `${path ?? 'an argument'} could not be ${destination}: ${messageOf(error)}`;
  const cloneError = new DOMException(message, 'DataCloneError');
  Object.defineProperty(cloneError, 'cause', { value: error, configurable: true, writable: true });
  return cloneError;
}

interface Walk {
  seen: Set<unknown>;
  visits: number;
}

function findUncloneable(args: unknown[], roots: readonly string[] | undefined): string | undefined {
  const walk: Walk = { seen: new Set(), visits: 0 };
  for (let i = 0; i < args.length; i++) {
    const path = visit(args[i], roots?.[i] ?? `args[${i}]`, walk, 0);
    if (path !== undefined) return path;
  }
  return undefined;
}

function visit(value: unknown, path: string, walk: Walk, depth: number): string | undefined {
  if (typeof value === 'function') return `${path} (a function)`;
  if (typeof value === 'symbol') return `${path} (a symbol)`;
  if (value === null || typeof value !== 'object') return undefined;
  // Before anything that could reach a trap (instanceof, Object.keys, a property read).
  if (types.isProxy(value)) return `${path} (a Proxy)`;
  if (walk.seen.has(value) || depth > MAX_DEPTH || ++walk.visits > MAX_VISITS) return undefined;
  walk.seen.add(value);
  // Binary data is cloneable as a whole, and its indices are not worth a walk.
  if (ArrayBuffer.isView(value) || types.isAnyArrayBuffer(value)) return undefined;
  if (types.isMap(value)) {
    let index = 0;
    for (const [key, item] of Map.prototype.entries.call(value) as IterableIterator<[unknown, unknown]>) {
      const found =
        visit(key, `${path}.keys()[${index}]`, walk, depth + 1) ?? visit(item, `${path}.get(${describeKey(key)})`, walk, depth + 1);
      if (found !== undefined || walk.visits > MAX_VISITS) return found;
      index++;
    }
    return undefined;
  }
  if (types.isSet(value)) {
    let index = 0;
    for (const item of Set.prototype.values.call(value) as IterableIterator<unknown>) {
      const found = visit(item, `${path}.values()[${index++}]`, walk, depth + 1);
      if (found !== undefined || walk.visits > MAX_VISITS) return found;
    }
    return undefined;
  }
  const isArray = Array.isArray(value);
  const keys = Object.keys(value);
  for (const key of keys) {
    const child = isArray ? `${path}[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
    let item: unknown;
    try {
      // Structured clone reads each own enumerable property with [[Get]]: a getter runs.
      item = (value as Record<string, unknown>)[key];
    } catch {
      return `${child} (a getter that throws)`;
    }
    const found = visit(item, child, walk, depth + 1);
    if (found !== undefined || walk.visits > MAX_VISITS) return found;
  }
  if (!isArray && keys.length === 0) {
    // A host object with no own properties (a MessagePort, a native handle): try it whole.
    try {
      structuredClone(value);
    } catch {
      return `${path} (${constructorName(value)})`;
    }
  }
  return undefined;
}

function describeKey(key: unknown): string {
  if (typeof key === 'string') return JSON.stringify(key);
  if (key !== null && typeof key === 'object') return 'an object';
  return typeof key === 'symbol' ? 'a symbol' : String(key);
}

function constructorName(value: object): string {
  try {
    const name = (value.constructor as { name?: unknown } | undefined)?.name;
    return typeof name === 'string' && name !== '' ? name : 'object';
  } catch {
    return 'object';
  }
}

/** The message of whatever was thrown, without trusting it (its `message` may be a getter too). */
function messageOf(error: unknown): string {
  try {
    if (error !== null && typeof error === 'object' && !types.isProxy(error)) {
      const message = (error as { message?: unknown }).message;
      if (typeof message === 'string') return message;
    }
    return typeof error === 'string' ? error : 'an uncloneable value';
  } catch {
    return 'an uncloneable value';
  }
}
