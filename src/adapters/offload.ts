/**
 * What every adapter's `offload(fn)` shares: FastAPI's rule for `def` routes, where a route
 * whose work is CPU-bound runs wholly in the thread pool and the loop only parses and replies.
 *
 * The input crosses to a worker by structured clone, so it is built from plain copies: a
 * framework's request objects (Express's `req.query` getter, Koa's delegates, Hono's Headers)
 * are not cloneable as they are, and a clone error per request would be a poor first
 * experience. Nothing here imports a framework.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { InvalidOptionTypeError } from '../errors.js';
import { getGlobal } from '../shared/globals.js';
import { checkFunction } from '../shared/validate.js';

/** What an offloaded route function receives. Every part is a plain, cloneable copy. */
export interface OffloadInput<
  P = Record<string, string>,
  Q = Record<string, unknown>,
  B = unknown,
> {
  /** Route parameters, e.g. `{ id: '42' }` for `/users/:id`. */
  params: P;
  /** The parsed query string. */
  query: Q;
  /** The parsed body: JSON when the content type says so, else text; `undefined` when there is none. */
  body: B;
  /** Request headers, lower-cased names. */
  headers: Record<string, string | string[] | undefined>;
}

/** A marked function (from `threaded()`) serving a route. Its result is sent as JSON. */
export type OffloadFunction<P, Q, B> = (input: OffloadInput<P, Q, B>) => unknown;

/** Largest body `offload` reads itself when no body parser ran before it. */
export const BODY_LIMIT = 1024 * 1024;

/**
 * `fn` must be a function marked with threaded(): a plain function would run on the loop,
 * the very thing offload() exists to avoid, and nobody would notice until production.
 * Marked functions are known from the pool's process-wide registry of definitions.
 */
export function checkOffloadFunction(fn: unknown): void {
  checkFunction('fn', fn);
  if (!isMarked(fn as object)) {
    const name = (fn as { name?: string }).name || 'the function';
    throw new InvalidOptionTypeError(
      `fn must be a function marked with threaded(), got ${name}, which is not marked; in a module of ` +
        `its own: export const ${/^[A-Za-z_$][\w$]*$/.test(name) ? name : 'route'} = threaded(function (input) { ... })`,
    );
  }
}

function isMarked(fn: object): boolean {
  return getGlobal('poolDefinitions')?.byFunction.get(fn as never)?.module !== undefined;
}

/**
 * A structured-cloneable copy of `value`: plain and null-prototype objects, arrays, and
 * instances of other classes become plain objects of their own enumerable properties;
 * functions and symbols are left out; values the clone algorithm handles natively (Buffers,
 * typed arrays, Dates, Maps, Sets, RegExps) are kept; cycles are cut.
 */
export function cloneable(value: unknown, seen: Set<object> = new Set()): unknown {
  if (typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (value === null || typeof value !== 'object') return value;
  if (
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    value instanceof Date ||
    value instanceof RegExp ||
    value instanceof Map ||
    value instanceof Set
  ) {
    return value;
  }
  if (seen.has(value)) return undefined;
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => cloneable(item, seen));
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const item = cloneable((value as Record<string, unknown>)[key], seen);
      if (item !== undefined) copy[key] = item;
    }
    return copy;
  } finally {
    seen.delete(value);
  }
}

/** Header record from node's `req.headers` or anything iterable as `[name, value]` pairs. */
export function plainHeaders(
  headers: Record<string, unknown> | Iterable<[string, string]>,
): Record<string, string | string[] | undefined> {
  const copy: Record<string, string | string[] | undefined> = {};
  const entries =
    Symbol.iterator in headers
      ? (headers as Iterable<[string, string]>)
      : Object.entries(headers as Record<string, unknown>);
  for (const [name, value] of entries) {
    if (typeof value === 'string') copy[name.toLowerCase()] = value;
    else if (Array.isArray(value)) copy[name.toLowerCase()] = value.map(String);
  }
  return copy;
}

/** The HTTP status an error asks for: its `status` or `statusCode` when that is 400–599, else 500. */
export function statusOf(error: unknown): number {
  if (error !== null && typeof error === 'object') {
    for (const key of ['status', 'statusCode']) {
      const status = (error as Record<string, unknown>)[key];
      if (Number.isInteger(status) && (status as number) >= 400 && (status as number) <= 599) {
        return status as number;
      }
    }
  }
  return 500;
}

/** An error carrying an HTTP status, for the paths where offload itself refuses a request. */
export function httpError(status: number, message: string): Error & { status: number; expose: boolean } {
  return Object.assign(new Error(message), { status, statusCode: status, expose: true });
}

/** Whether a node:http request announces a body (GET and HEAD normally do not). */
export function hasBody(headers: Record<string, unknown>): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Read a request body that no body parser consumed: JSON for a JSON content type, else text.
 * Refuses more than {@link BODY_LIMIT} bytes with a 413 and malformed JSON with a 400.
 */
export async function readBody(stream: Readable, headers: Record<string, unknown>): Promise<unknown> {
  if (!hasBody(headers) || stream.readableEnded) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > BODY_LIMIT) throw httpError(413, `request body larger than ${BODY_LIMIT} bytes`);
    chunks.push(buffer);
  }
  return parseBody(Buffer.concat(chunks).toString('utf8'), String(headers['content-type'] ?? ''));
}

/**
 * Read a fetch-API body (Hono's `c.req.raw.body`) as text, refusing more than
 * {@link BODY_LIMIT} bytes with a 413 the way {@link readBody} does: a declared
 * `content-length` over the limit before reading anything, else once the bytes read pass it
 * (the rest is not read: the stream is cancelled).
 */
export async function readWebBody(
  body: ReadableStream<Uint8Array> | null,
  contentLength: string | undefined,
): Promise<string> {
  if (contentLength !== undefined && Number(contentLength) > BODY_LIMIT) {
    await body?.cancel().catch(() => undefined);
    throw httpError(413, `request body larger than ${BODY_LIMIT} bytes`);
  }
  if (body === null) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > BODY_LIMIT) {
      await reader.cancel().catch(() => undefined);
      throw httpError(413, `request body larger than ${BODY_LIMIT} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The input of an offloaded route on a node:http request (Express, Koa): `parsed` is what a
 * body parser left on the framework's request, and when none ran the body is read here.
 */
export async function nodeRequestInput(
  req: IncomingMessage,
  parsed: unknown,
  params: unknown,
  query: unknown,
): Promise<OffloadInput> {
  const body = !hasBody(req.headers) ? undefined : parsed !== undefined ? parsed : await readBody(req, req.headers);
  return {
    params: cloneable(params ?? {}) as Record<string, string>,
    query: cloneable(query ?? {}) as Record<string, unknown>,
    body: cloneable(body),
    headers: plainHeaders(req.headers),
  };
}

/** Parse body text by its content type: JSON for `application/json` and `+json`, else the text. */
export function parseBody(text: string, contentType: string): unknown {
  if (text === '') return undefined;
  if (!/\bjson\b/i.test(contentType)) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw httpError(400, 'request body is not valid JSON');
  }
}

/** JSON text for a result; `undefined` becomes `null` so the reply is always valid JSON. */
export function jsonOf(result: unknown): string {
  return JSON.stringify(result === undefined ? null : result);
}
