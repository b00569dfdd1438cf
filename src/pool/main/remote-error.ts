import type { SerializedError } from '../protocol.js';
import { FunctionNotPortableError } from '../../errors.js';
import { BUILT_IN_ERRORS } from '../../shared/error-classes.js';

/**
 * Rebuild an error thrown in a pool thread: built-in classes come back as themselves
 * (a RangeError stays a RangeError), other classes as an Error keeping `name`; message,
 * the worker's stack and own properties (`code`, `errno`, …) are kept.
 */
export function reviveError(serialized: SerializedError | unknown): unknown {
  if (serialized === null || typeof serialized !== 'object' || !('message' in serialized)) return serialized;
  const { name, message, stack, props, cause } = serialized as SerializedError;
  const options = cause === undefined ? undefined : { cause: reviveError(cause) };
  let error: Error;
  if (name === 'FunctionNotPortableError') {
    error = new FunctionNotPortableError(message, options);
  } else if (name === 'DataCloneError') {
    error = new DOMException(message, 'DataCloneError');
    if (options !== undefined) Object.defineProperty(error, 'cause', { value: options.cause, configurable: true });
  } else {
    const Constructor = BUILT_IN_ERRORS[name] ?? Error;
    error = new Constructor(message, options);
    if (error.name !== name) {
      Object.defineProperty(error, 'name', { value: name, configurable: true, writable: true });
    }
  }
  if (stack !== undefined && name !== 'FunctionNotPortableError') error.stack = stack;
  if (props !== undefined) {
    for (const key of Object.keys(props)) {
      try {
        (error as unknown as Record<string, unknown>)[key] = props[key];
      } catch {
        // a read-only property of the rebuilt class (e.g. `code` on ours): keep ours
      }
    }
  }
  return error;
}
