// Pool-thread side (imported by worker.ts only): errors thrown in a thread, as the main
// thread's remote-error.ts revives them.
import type { SerializedError } from '../protocol.js';

type Fn = (...args: unknown[]) => unknown;

const FREE_VARIABLE = Symbol('freeVariable');

export function freeVariable(error: unknown): unknown {
  const match = error instanceof ReferenceError ? /^(\S+) is not defined$/.exec(error.message) : null;
  if (match === null) return error;
  return { [FREE_VARIABLE]: match[1], error };
}

export function notPortable(error: unknown, message?: string): SerializedError {
  const cause = serializeError(error);
  return { name: 'FunctionNotPortableError', message: message ?? cause.message, cause };
}

export function serializeError(error: unknown, fn?: Fn): SerializedError {
  if (error !== null && typeof error === 'object' && FREE_VARIABLE in error) {
    const variable = (error as Record<symbol, string>)[FREE_VARIABLE];
    const name = fn?.name ? `${fn.name}()` : 'the function';
    return {
      name: 'FunctionNotPortableError',
      message:
        `${name} uses \`${variable}\`, a variable from outside its own body, which a worker thread ` +
        `cannot see; pass it as an argument, or mark the function with threaded() in a module of its own`,
      props: { variable },
      cause: serializeError((error as unknown as { error: unknown }).error),
    };
  }
  if (!(error instanceof Error)) {
    return { name: 'Error', message: `non-error thrown: ${safeString(error)}`, props: { value: cloneable(error) } };
  }
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    if (key === 'message' || key === 'stack' || key === 'cause') continue;
    const value = cloneable((error as unknown as Record<string, unknown>)[key]);
    if (value !== undefined) props[key] = value;
  }
  const serialized: SerializedError = { name: error.name, message: error.message, props };
  if (error.stack !== undefined) serialized.stack = error.stack;
  if (error.cause !== undefined) serialized.cause = error.cause instanceof Error ? serializeError(error.cause) : cloneable(error.cause);
  return serialized;
}

function cloneable(value: unknown): unknown {
  try {
    return structuredClone(value);
  } catch {
    return undefined;
  }
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return typeof value;
  }
}
