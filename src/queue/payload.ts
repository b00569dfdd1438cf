/**
 * What crosses the process boundary of the job queue: argument lists, results and errors,
 * encoded by the app or the worker and decoded by the other. Both servers keep job data as
 * JSON, so the bytes of `v8.serialize` travel as base64 text: v8's format is the one that keeps
 * Date, Map, Set, BigInt, Buffer and typed arrays, as they keep across a thread.
 *
 * Errors are not left to v8, which keeps only the built-in classes and drops `code` and every
 * other own property: an error becomes a plain record (class name, message, stack, own
 * properties, cause) that is rebuilt on the other side.
 */
import { Buffer } from 'node:buffer';
import { types } from 'node:util';
import { deserialize, serialize, Serializer } from 'node:v8';
import { PayloadTooLargeError, remakeLoopguardError } from '../errors.js';
import { cloneErrorFor } from '../pool/main/clone-path.js';
import { BUILT_IN_ERRORS } from '../shared/error-classes.js';

/** 1 MiB of serialised bytes: the default `maxPayload`. */
export const DEFAULT_MAX_PAYLOAD = 1_048_576;

/** How deep a chain of `cause`s is kept; deeper causes are cut (a cycle would never end). */
const MAX_CAUSE_DEPTH = 8;
/** An error's message beyond this is cut when the whole error would not fit in `maxPayload`. */
const FALLBACK_MESSAGE_LENGTH = 8_192;
/** Marks an error record among a cause's possible values (a cause may be any value). */
const ERROR_RECORD = '$loopguardError';

interface ErrorRecord {
  [ERROR_RECORD]: 1;
  name: string;
  message: string;
  stack?: string;
  props: Record<string, unknown>;
  cause?: unknown;
  hasCause: boolean;
}

/** A function's argument list as stored text; `fn` names it in the errors (`renderReport's arguments`). */
export function encodeArguments(fn: string, args: readonly unknown[], maxPayload = DEFAULT_MAX_PAYLOAD): string {
  const list = [...args];
  return encode(list, `${fn}'s arguments`, maxPayload, (error) => cloneErrorFor(list, error, 'serialised for the queue'));
}

/** A job's result as stored text. */
export function encodeResult(fn: string, value: unknown, maxPayload = DEFAULT_MAX_PAYLOAD): string {
  return encode(value, `${fn}'s result`, maxPayload, (error) => cloneErrorFor([value], error, 'serialised for the queue', ['result']));
}

/** Decode what encodeArguments() made. */
export function decodeArguments(text: string): unknown[] {
  const args = decodeValue(text);
  if (!Array.isArray(args)) throw new TypeError('a job\'s arguments did not decode to an argument list');
  return args;
}

/** Decode what encodeResult() (or encodeArguments()) made. */
export function decodeValue(text: string): unknown {
  return deserialize(Buffer.from(text, 'base64'));
}

/**
 * An error (or any thrown value) as stored text. Never throws: what cannot be serialised is
 * left out, and an error that would be over `maxPayload` is cut to its class name and the start
 * of its message, so a job always fails with something that says what went wrong.
 */
export function encodeError(error: unknown, maxPayload = DEFAULT_MAX_PAYLOAD): string {
  const record = toRecord(error, 0);
  try {
    const bytes = serialize(record);
    if (bytes.length <= maxPayload) return bytes.toString('base64');
  } catch {
    // a property that passed its own check but not in company (should not happen): cut below
  }
  const cut: ErrorRecord = {
    [ERROR_RECORD]: 1,
    name: record.name,
    message:
      record.message.length > FALLBACK_MESSAGE_LENGTH
        ? `${record.message.slice(0, FALLBACK_MESSAGE_LENGTH)}… (cut: the error was over the queue's maxPayload)`
        : `${record.message} (its stack and properties were left out: over the queue's maxPayload)`,
    props: typeof record.props.code === 'string' ? { code: record.props.code } : {},
    hasCause: false,
  };
  return serialize(cut).toString('base64');
}

/**
 * Rebuild an error encoded by encodeError(): built-in classes and loopguard's own come back as
 * themselves (so `instanceof` and `code` work), any other class as an Error whose `name` is the
 * original class name; message, the original stack, own properties and the cause chain are kept.
 */
export function decodeError(text: string): Error {
  let value: unknown;
  try {
    value = decodeValue(text);
  } catch (error) {
    return new Error('a job failed, but its error could not be decoded', { cause: error });
  }
  return isRecord(value) ? fromRecord(value) : new Error(`a job failed with ${String(value)}`);
}

/**
 * One serializer for primitive values, used again and again: `v8.serialize()` makes a new one
 * (a native object the GC must finalise) every call, and a queue worker encodes one result a
 * job, most often a number or a string. A primitive is written without the serializer's object
 * table, so the bytes are those of `v8.serialize()` (payload.test.ts checks); `releaseBuffer()`
 * hands the bytes over and leaves it empty for the next value.
 */
const primitives = new Serializer();

function serializeValue(value: unknown): Buffer {
  const type = typeof value;
  if (value === null || type === 'number' || type === 'string' || type === 'boolean' || type === 'bigint' || type === 'undefined') {
    try {
      primitives.writeHeader();
      primitives.writeValue(value);
    } catch (error) {
      // Out of memory for a huge string: what was written must not lead the next value.
      primitives.releaseBuffer();
      throw error;
    }
    return primitives.releaseBuffer();
  }
  // Objects, and what cannot be cloned (a symbol, a function): v8's own path, its errors.
  return serialize(value);
}

function encode(value: unknown, what: string, maxPayload: number, cloneError: (error: unknown) => DOMException): string {
  let bytes: Buffer;
  try {
    bytes = serializeValue(value);
  } catch (error) {
    throw cloneError(error);
  }
  if (bytes.length > maxPayload) throw new PayloadTooLargeError(what, bytes.length, maxPayload);
  return bytes.toString('base64');
}

function toRecord(error: unknown, depth: number): ErrorRecord {
  if (!isErrorLike(error)) {
    return {
      [ERROR_RECORD]: 1,
      name: 'Error',
      message: `non-error thrown: ${safeString(error)}`,
      props: serialisable(error) ? { value: error } : {},
      hasCause: false,
    };
  }
  const props: Record<string, unknown> = {};
  let keys: string[];
  try {
    keys = Object.keys(error);
  } catch {
    keys = [];
  }
  for (const key of keys) {
    if (key === 'message' || key === 'stack' || key === 'cause' || key === 'name') continue;
    let value: unknown;
    try {
      value = (error as unknown as Record<string, unknown>)[key];
    } catch {
      continue; // a getter that throws
    }
    if (serialisable(value)) props[key] = value;
  }
  // `code` is often a getter or a prototype field (a class field is own, a getter is not): keep it.
  if (!('code' in props)) {
    const code = safeRead(error, 'code');
    if (typeof code === 'string' || typeof code === 'number') props.code = code;
  }
  const record: ErrorRecord = {
    [ERROR_RECORD]: 1,
    name: stringOr(safeRead(error, 'name'), 'Error'),
    message: stringOr(safeRead(error, 'message'), ''),
    props,
    hasCause: false,
  };
  const stack = safeRead(error, 'stack');
  if (typeof stack === 'string') record.stack = stack;
  const hasCause = (() => {
    try {
      return 'cause' in error;
    } catch {
      return false;
    }
  })();
  if (hasCause && depth < MAX_CAUSE_DEPTH) {
    const cause = safeRead(error, 'cause');
    if (isErrorLike(cause)) {
      record.cause = toRecord(cause, depth + 1);
      record.hasCause = true;
    } else if (serialisable(cause)) {
      record.cause = cause;
      record.hasCause = true;
    }
  }
  return record;
}

/** DOMException names Node itself rejects with (an abort, a timeout signal, a failed clone). */
const DOM_EXCEPTIONS = new Set(['AbortError', 'TimeoutError', 'DataCloneError']);

function fromRecord(record: ErrorRecord): Error {
  const { name, message } = record;
  let error: Error;
  const ours = remakeLoopguardError(name, message);
  if (ours !== undefined) {
    error = ours;
  } else if (DOM_EXCEPTIONS.has(name)) {
    error = new DOMException(message, name);
  } else {
    error = new (BUILT_IN_ERRORS[name] ?? Error)(message);
    if (error.name !== name) Object.defineProperty(error, 'name', { value: name, configurable: true, writable: true });
  }
  if (record.stack !== undefined) {
    Object.defineProperty(error, 'stack', { value: record.stack, configurable: true, writable: true });
  }
  for (const key of Object.keys(record.props)) {
    try {
      Object.defineProperty(error, key, { value: record.props[key], configurable: true, writable: true, enumerable: true });
    } catch {
      // a non-configurable property of the rebuilt class: keep its own
    }
  }
  if (record.hasCause) {
    const cause = isRecord(record.cause) ? fromRecord(record.cause) : record.cause;
    Object.defineProperty(error, 'cause', { value: cause, configurable: true, writable: true });
  }
  return error;
}

function isRecord(value: unknown): value is ErrorRecord {
  return value !== null && typeof value === 'object' && (value as Record<string, unknown>)[ERROR_RECORD] === 1;
}

function isErrorLike(value: unknown): value is Error {
  if (value === null || typeof value !== 'object' || types.isProxy(value)) return false;
  return types.isNativeError(value) || value instanceof Error;
}

function serialisable(value: unknown): boolean {
  if (typeof value === 'function' || typeof value === 'symbol' || value === undefined) return false;
  if (value !== null && typeof value === 'object' && types.isProxy(value)) return false;
  try {
    serialize(value);
    return true;
  } catch {
    return false;
  }
}

function safeRead(target: object, key: string): unknown {
  try {
    return (target as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'symbol' ? value.toString() : String(value);
  } catch {
    return typeof value;
  }
}
