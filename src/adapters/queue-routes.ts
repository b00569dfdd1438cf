/**
 * What every adapter's job-queue routes share (API §7): `enqueue(fn)` answers a request at once with `202 { id, state: 'queued', statusUrl }` (and a `Location` header) after
 * storing a job for `fn(input)`, where `input` is the same plain `{ params, query, body,
 * headers }` copy offload() builds; `jobStatus(queue)` serves `GET …/:id` with `queue.status()`'s
 * object as JSON, 404 for an id the queue does not hold.
 *
 * `fn` is a function marked with `threaded(fn, { queue })`: its queue is found in threaded()'s
 * process-wide record (shared/globals.ts 'threadedQueues'), or given as `options.queue`. Only the
 * Queue's shape is used here, so an adapter never loads loopguard/queue (nor a queue client).
 */
import { InvalidOptionTypeError } from '../errors.js';
import { getGlobal } from '../shared/globals.js';
import { checkFunction, checkOptionsObject, describeValue } from '../shared/validate.js';
import type { OffloadInput } from './offload.js';

/** What the routes need of a loopguard Queue (createQueue() of loopguard/queue). */
export interface RouteQueue {
  enqueue(fn: never, args: never, options?: never): Promise<{ id: string; state: string }>;
  status(id: string): Promise<RouteJobStatus>;
}

/** `queue.status()`'s object, as the routes read it. */
export interface RouteJobStatus {
  id: string;
  state: string;
  error?: Error;
  [field: string]: unknown;
}

/** Per-request job options (loopguard/queue's EnqueueOptions: key, priority, delay, retries, timeout…). */
export type RouteJobOptions = Record<string, unknown>;

export interface EnqueueRouteOptions<P = Record<string, string>, Q = Record<string, unknown>, B = unknown> {
  /** The queue the job goes on. @default the one `fn` was marked with: `threaded(fn, { queue })` */
  queue?: RouteQueue;
  /**
   * The URL of the job's status, sent as `statusUrl` and `Location`.
   * @default the request's path followed by `/<id>`, where `jobStatus(queue)` is mounted as `…/:id`
   */
  statusUrl?: (id: string, input: OffloadInput<P, Q, B>) => string;
  /** Job options for this request, e.g. `({ params }) => ({ key: \`report-${params.id}\` })`. @default none */
  jobOptions?: (input: OffloadInput<P, Q, B>) => RouteJobOptions | undefined;
}

export interface RouteAnswer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** The validated options of one enqueue() route, its queue found. */
export interface EnqueueRoute {
  queue: RouteQueue;
  statusUrl?: (id: string, input: OffloadInput) => string;
  jobOptions?: (input: OffloadInput) => RouteJobOptions | undefined;
}

export function checkEnqueueRoute(fn: unknown, options: unknown): EnqueueRoute {
  checkFunction('fn', fn);
  checkOptionsObject('options', options, ['queue', 'statusUrl', 'jobOptions']);
  const given = (options ?? {}) as Partial<EnqueueRouteOptions>;
  if (given.statusUrl !== undefined) checkFunction('statusUrl', given.statusUrl);
  if (given.jobOptions !== undefined) checkFunction('jobOptions', given.jobOptions);
  let queue: unknown = given.queue;
  if (queue === undefined) {
    queue = getGlobal('threadedQueues')?.get(fn as object);
    if (queue === undefined) {
      const name = (fn as { name?: string }).name || 'fn';
      throw new InvalidOptionTypeError(
        `fn must be a function marked with threaded(${name}, { queue }), or options.queue given; ${name} has no queue`,
      );
    }
  }
  checkRouteQueue('queue', queue);
  return { ...(given as EnqueueRoute), queue: queue as RouteQueue };
}

export function checkRouteQueue(name: string, queue: unknown): void {
  const candidate = queue as Partial<RouteQueue> | null | undefined;
  if (candidate === null || typeof candidate !== 'object' || typeof candidate.enqueue !== 'function' || typeof candidate.status !== 'function') {
    throw new InvalidOptionTypeError(`${name} must be a Queue made by createQueue() of loopguard/queue, got ${describeValue(queue)}`);
  }
}

/** Enqueue `fn(input)` and build the 202 answer. */
export async function enqueueAnswer(
  fn: unknown,
  input: OffloadInput,
  path: string,
  route: EnqueueRoute,
): Promise<RouteAnswer> {
  const jobOptions = route.jobOptions?.(input);
  const { id } = await route.queue.enqueue(fn as never, [input] as never, jobOptions as never);
  const statusUrl = route.statusUrl ? route.statusUrl(id, input) : `${path.replace(/\/+$/, '')}/${encodeURIComponent(id)}`;
  return {
    status: 202,
    body: JSON.stringify({ id, state: 'queued', statusUrl }),
    headers: { 'content-type': JSON_TYPE, location: statusUrl },
  };
}

/** The status answer for `id`: 200 with the status object, 404 when the queue holds no such job. */
export async function statusAnswer(queue: RouteQueue, id: string | undefined): Promise<RouteAnswer> {
  const headers = { 'content-type': JSON_TYPE };
  if (id === undefined || id === '') return { status: 404, body: JSON.stringify({ error: 'no job id in the path' }), headers };
  try {
    const status = await queue.status(id);
    return { status: 200, body: JSON.stringify(statusJson(status), jsonValue), headers };
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    // An id of the wrong shape (checkJobId) cannot name a job either.
    if (code === 'ERR_LOOPGUARD_JOB_NOT_FOUND' || code === 'ERR_LOOPGUARD_INVALID_OPTION') {
      return { status: 404, body: JSON.stringify({ error: `no job ${id}` }), headers };
    }
    throw error;
  }
}

/**
 * A job's result keeps its types across the queue (v8 serialisation), but JSON has none of
 * them: JSON.stringify throws on a BigInt and writes a Map or a Set as `{}`, losing its data.
 * Here a BigInt is its decimal string, a Map an object of its entries, a Set an array.
 */
function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Map) return Object.fromEntries([...value].map(([key, entry]) => [String(key), entry as unknown]));
  if (value instanceof Set) return [...value];
  return value;
}

/** The last path segment (for node:http, which has no route parameters). */
export function lastSegment(path: string): string | undefined {
  const segment = path.split('?')[0]!.replace(/\/+$/, '').split('/').pop();
  return segment ? decodeURIComponent(segment) : undefined;
}

/** status() as JSON: an Error becomes `{ name, message, code?, …own fields }` (JSON.stringify drops an Error's message). */
export function statusJson(status: RouteJobStatus): Record<string, unknown> {
  const json: Record<string, unknown> = { ...status };
  if (status.error instanceof Error) json.error = errorJson(status.error);
  return json;
}

function errorJson(error: Error): Record<string, unknown> {
  const json: Record<string, unknown> = { name: error.name, message: error.message };
  for (const key of Object.keys(error)) {
    const value = (error as unknown as Record<string, unknown>)[key];
    if (key !== 'stack' && key !== 'cause' && typeof value !== 'function') json[key] = value;
  }
  return json;
}
