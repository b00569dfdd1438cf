/**
 * Find where in a task's arguments a value that cannot be structured-cloned sits, so the
 * error says `args[0].socket._events.close` instead of a bare DataCloneError.
 */

/** The DataCloneError a task fails with: the path of the value and the clone error as its cause. */
export function cloneErrorFor(args: unknown[], error: unknown): DOMException {
  const path = findUncloneable(args) ?? 'an argument';
  const message = `${path} could not be cloned to a worker thread: ${(error as Error)?.message ?? String(error)}`;
  const cloneError = new DOMException(message, 'DataCloneError');
  Object.defineProperty(cloneError, 'cause', { value: error, configurable: true });
  return cloneError;
}

function findUncloneable(args: unknown[]): string | undefined {
  const seen = new Set<unknown>();
  for (let i = 0; i < args.length; i++) {
    const path = walk(args[i], `args[${i}]`, seen, 0);
    if (path !== undefined) return path;
  }
  return undefined;
}

function walk(value: unknown, path: string, seen: Set<unknown>, depth: number): string | undefined {
  if (typeof value === 'function') return `${path} (a function)`;
  if (typeof value === 'symbol') return `${path} (a symbol)`;
  if (value === null || typeof value !== 'object' || seen.has(value) || depth > 50) return undefined;
  seen.add(value);
  if (value instanceof Map) {
    let index = 0;
    for (const [key, item] of value) {
      const found = walk(key, `${path}.keys()[${index}]`, seen, depth + 1) ?? walk(item, `${path}.get(${describeKey(key)})`, seen, depth + 1);
      if (found !== undefined) return found;
      index++;
    }
    return undefined;
  }
  if (value instanceof Set) {
    let index = 0;
    for (const item of value) {
      const found = walk(item, `${path}.values()[${index++}]`, seen, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  const isArray = Array.isArray(value);
  for (const key of Object.keys(value)) {
    const child = isArray ? `${path}[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
    const found = walk((value as Record<string, unknown>)[key], child, seen, depth + 1);
    if (found !== undefined) return found;
  }
  if (!isArray && Object.keys(value).length === 0) {
    // A host object with no own properties (a MessagePort, a native handle): try it whole.
    try {
      structuredClone(value);
    } catch {
      return `${path} (${value.constructor?.name ?? 'object'})`;
    }
  }
  return undefined;
}

function describeKey(key: unknown): string {
  return typeof key === 'string' ? JSON.stringify(key) : String(key);
}
