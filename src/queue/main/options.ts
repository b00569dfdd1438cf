/** createQueue()'s and the per-call options, validated up front (STYLE.md habit 4). */
import { InvalidOptionTypeError } from '../../errors.js';
import { checkNumber, checkOptionsObject, checkString, describeValue } from '../../shared/validate.js';
import { checkTimeout } from '../../pool/main/options.js';
import { DEFAULT_MAX_PAYLOAD } from '../payload.js';
import { backendKind, redactUrl } from '../backends/open.js';

export interface QueueOptions {
  /**
   * Where the queue lives: `postgres://…` (pg-boss on PostgreSQL) or `redis://…` (BullMQ on
   * Redis), usually `process.env.QUEUE_URL`.
   */
  url: string | undefined;
  /** The queue's name on the server; the worker is started with the same one. */
  name: string;
  /** Bytes of serialised arguments or result a job may carry. @default 1048576 (1 MiB) */
  maxPayload?: number;
  /** Default attempts after the first, per job. @default 0 */
  retries?: number;
  /** Default ms before the first retry; each later one waits twice as long. @default 1000 */
  retryDelay?: number;
  /**
   * Default ms one attempt may run; also the lease: a job whose worker died runs again within
   * about twice this, that lost attempt counted against `retries`. @default 60000
   */
  timeout?: number;
  /** ms between two looks at the server while a result is awaited. @default 100 */
  pollInterval?: number;
}

export interface ResolvedQueueOptions {
  url: string;
  name: string;
  maxPayload: number;
  retries: number;
  retryDelay: number;
  timeout: number;
  pollInterval: number;
}

const QUEUE_OPTIONS = ['url', 'name', 'maxPayload', 'retries', 'retryDelay', 'timeout', 'pollInterval'] as const;

/** The longest job timeout: pg-boss keeps a job active for at most 24 hours. */
export const MAX_JOB_TIMEOUT = 23 * 60 * 60 * 1000;

export function resolveQueueOptions(options: unknown): ResolvedQueueOptions {
  if (options === undefined) {
    throw new InvalidOptionTypeError('createQueue() needs options: { url, name }, e.g. { url: process.env.QUEUE_URL, name: \'reports\' }');
  }
  const given = checkOptionsObject('createQueue options', options, QUEUE_OPTIONS) as Partial<QueueOptions>;
  if (given.url === undefined) {
    throw new InvalidOptionTypeError('url (e.g. process.env.QUEUE_URL) is undefined; set it to postgres://… or redis://…');
  }
  if (typeof given.url !== 'string' || given.url === '') {
    throw new InvalidOptionTypeError(`url must be a non-empty string such as postgres://host/db or redis://host:6379, got ${describeUrl(given.url)}`);
  }
  backendKind(given.url);
  const name = checkString('name', given.name);
  if (!/^[\w.\-/]+$/.test(name)) {
    throw new InvalidOptionTypeError(
      `name may only contain letters, digits, _ . - and /, got ${describeValue(name)}`,
    );
  }
  return {
    url: given.url,
    name,
    maxPayload:
      given.maxPayload === undefined
        ? DEFAULT_MAX_PAYLOAD
        : checkNumber('maxPayload', given.maxPayload, { min: 1, integer: true }),
    retries: given.retries === undefined ? 0 : checkRetries('retries', given.retries),
    retryDelay: given.retryDelay === undefined ? 1000 : checkDelay('retryDelay', given.retryDelay),
    timeout: given.timeout === undefined ? 60_000 : checkJobTimeout('timeout', given.timeout),
    pollInterval:
      given.pollInterval === undefined ? 100 : checkNumber('pollInterval', given.pollInterval, { min: 10, max: 60_000 }),
  };
}

export interface EnqueueOptions {
  /** Attempts after the first. @default the queue's `retries` */
  retries?: number;
  /** ms before the first retry, doubling after. @default the queue's `retryDelay` */
  retryDelay?: number;
  /** ms one attempt may run, also its lease. @default the queue's `timeout` */
  timeout?: number;
  /** While a job with this key is queued or active, enqueue() returns its id instead of a new job. */
  key?: string;
  /** Higher runs first. @default 0 */
  priority?: number;
  /** ms before the job may start. @default 0 */
  delay?: number;
  /** Cancels the job when it aborts: a queued job never runs, a running one is asked to stop. */
  signal?: AbortSignal;
}

const ENQUEUE_OPTIONS = ['retries', 'retryDelay', 'timeout', 'key', 'priority', 'delay', 'signal'] as const;

export interface ResolvedEnqueueOptions {
  retries: number;
  retryDelay: number;
  timeout: number;
  key?: string;
  priority: number;
  delay: number;
  signal?: AbortSignal;
}

export function resolveEnqueueOptions(options: unknown, defaults: ResolvedQueueOptions): ResolvedEnqueueOptions {
  const given = checkOptionsObject('enqueue options', options, ENQUEUE_OPTIONS) as EnqueueOptions;
  const resolved: ResolvedEnqueueOptions = {
    retries: given.retries === undefined ? defaults.retries : checkRetries('retries', given.retries),
    retryDelay: given.retryDelay === undefined ? defaults.retryDelay : checkDelay('retryDelay', given.retryDelay),
    timeout: given.timeout === undefined ? defaults.timeout : checkJobTimeout('timeout', given.timeout),
    priority:
      given.priority === undefined
        ? 0
        : checkNumber('priority', given.priority, { integer: true, min: -2_147_483_648, max: 2_147_483_647 }),
    delay: given.delay === undefined ? 0 : checkDelay('delay', given.delay),
  };
  if (given.key !== undefined) resolved.key = checkString('key', given.key);
  if (given.signal !== undefined) resolved.signal = checkSignal('signal', given.signal);
  return resolved;
}

export interface ResultOptions {
  /** ms to wait before rejecting with JobWaitTimeoutError (the job goes on). @default Infinity */
  timeout?: number;
  /** Stop waiting (the job goes on) with the signal's reason. */
  signal?: AbortSignal;
}

export function resolveResultOptions(options: unknown): { timeout: number; signal?: AbortSignal } {
  const given = checkOptionsObject('result options', options, ['timeout', 'signal']) as ResultOptions;
  const resolved: { timeout: number; signal?: AbortSignal } = {
    timeout: given.timeout === undefined ? Infinity : checkTimeout('timeout', given.timeout),
  };
  if (given.signal !== undefined) resolved.signal = checkSignal('signal', given.signal);
  return resolved;
}

export function checkJobId(id: unknown): string {
  if (typeof id !== 'string' || id === '') {
    throw new InvalidOptionTypeError(`id must be a job id (a non-empty string, as enqueue() returned it), got ${describeValue(id)}`);
  }
  return id;
}

function checkRetries(name: string, value: unknown): number {
  return checkNumber(name, value, { min: 0, max: 1000, integer: true });
}

function checkDelay(name: string, value: unknown): number {
  return checkNumber(name, value, { min: 0, max: MAX_JOB_TIMEOUT });
}

function checkJobTimeout(name: string, value: unknown): number {
  return checkNumber(name, value, { min: 1, max: MAX_JOB_TIMEOUT, integer: true });
}

function checkSignal(name: string, value: unknown): AbortSignal {
  if (!(value instanceof AbortSignal)) {
    throw new InvalidOptionTypeError(`${name} must be an AbortSignal, got ${describeValue(value)}`);
  }
  return value;
}

function describeUrl(value: unknown): string {
  return typeof value === 'string' ? redactUrl(value) : describeValue(value);
}
