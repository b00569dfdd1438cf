/**
 * Every process-wide value loopguard keeps, in one place.
 *
 * They live on `globalThis` under `Symbol.for` keys, never in module scope: the ESM and the
 * CJS build (and each CJS entry, which tsup bundles separately) may all be loaded into one
 * process, and they must share one monitor, one context store and one registry of marked
 * functions. Code that cannot import this module reads the same keys by their string: the
 * pool thread's entry (its own bundle) and the expressions the watchdog evaluates on the
 * main thread, which is why {@link globalKey} is exported as plain data too.
 *
 * The version is in the key: two installed versions of loopguard whose shapes differ must
 * never read each other's values. Bump it when a shape below changes incompatibly.
 */
import type { AsyncLocalStorage } from 'node:async_hooks';
import type { TransferListItem } from 'node:worker_threads';
import type { FunctionDef } from '../pool/protocol.js';
import type { PoolStats } from '../pool/main/metrics.js';
import type { BlockContext } from '../types.js';
import type { RouteIdRegistry } from './route-frames.js';
import type { RequestContextSwitch } from './request-context.js';

const VERSION = 1;

/** The brand on every loopguard error instance (errors.ts): what instanceof reads across copies. */
export const ERROR_BRAND: unique symbol = Symbol.for(`loopguard.v${VERSION}.error`) as never;

/**
 * The brand on every loopguard Queue (loopguard/queue): how threaded({ queue }) in the core build
 * recognises one, from either build, without importing the queue's code.
 */
export const QUEUE_BRAND: unique symbol = Symbol.for(`loopguard.v${VERSION}.queue`) as never;

/**
 * An internal pool run option (not part of RunOptions, so not public): a structured-cloneable
 * value the task's thread exposes while the task runs (global `taskContext`). The queue worker's
 * job progress finds its job by it. A registered symbol, so either build's pool reads it.
 */
export const TASK_CONTEXT: unique symbol = Symbol.for(`loopguard.v${VERSION}.taskContextOption`) as never;

/** The brand on the per-request context stores (shared/request-context.ts): a store of any copy is recognised. */
export const REQUEST_STORE_BRAND: unique symbol = Symbol.for(`loopguard.v${VERSION}.requestStore`) as never;

type AnyFunction = (...args: never[]) => unknown;

/** What modules other than the monitor (and other copies of loopguard) use of the running one. */
export interface SharedMonitor {
  readonly threshold: number;
  /** Report through the user's chosen log (pretty, JSON, a logger). */
  warn(fields: object, message: string): void;
  /** Report the block of the tick the process exits from (call it in 'exit', before reading the figures). */
  flushAtExit?(): void;
}

/** What the exporters read of a job queue's `stats()`, per function (loopguard/queue's stats carry more). */
export interface QueueJobCounts {
  completed: number;
  failed: number;
}

/** Function → how a pool thread finds it (both builds share it, so either build's pool runs either's marks). */
export interface SharedDefinitions {
  nextIndex: number;
  byFunction: WeakMap<AnyFunction, FunctionDef>;
  bySource: Map<string, FunctionDef>;
  /** Per module URL: how many threaded() calls it made (the key of unnamed functions). */
  ordinals: Map<string, number>;
}

/** The type of every process-wide value, by name. */
export interface ProcessGlobals {
  /** The running monitor (at most one per process, whichever build started it). */
  monitor: SharedMonitor;
  /** The heartbeat's shared slots, read by the watchdog's expressions on the main thread. */
  heartbeat: Int32Array;
  /** Said "stacks unavailable" once already (per process, not per monitor). */
  stacksUnavailableSaid: { said: boolean };
  /** The store behind withContext/guard/currentContext. */
  contextStorage: AsyncLocalStorage<BlockContext>;
  /** The request the sync-call policy is inside (its own store: it may cost what the monitor must not). */
  syncCallsRequestStorage: AsyncLocalStorage<object>;
  /** Called by the watchdog on a paused frame's objects to find the request being served. */
  describeRequest: (candidate: unknown) => BlockContext | undefined;
  /** register ran in this process. */
  register: true;
  /** Resolves once register's monitor is watching (awaited by the CLI's second preload). */
  registerReady: Promise<void>;
  /** The pool created on first use of threaded()/runInThreadpool(). */
  defaultPool: { close(): Promise<void> };
  /** Function → how a pool thread finds it. */
  poolDefinitions: SharedDefinitions;
  /** `moduleUrl#key` → marked function; read by the pool thread after importing the module. */
  threadedRegistry: Map<string, AnyFunction>;
  /** Set by the pool thread's entry first thing: threaded() then returns the plain function. */
  inPoolWorker: boolean;
  /** In a pool thread: the running task's context (pool/main/options.ts TASK_CONTEXT), set by the entry around each call. */
  taskContext: object;
  /** Pool → how threaded() tells it a function moved there for good (`offload: 'auto'`); not a
   * method on the pool, so that nothing of its inside is reachable on the instance. */
  poolOffloadNotes: WeakMap<object, (label: string) => void>;
  /** ArrayBuffers named by transfer(value, list), keyed by value. */
  transferLists: WeakMap<object, TransferListItem[]>;
  /** Route id (in the name of an adapter's handler wrapper, route-frames.ts) → method and route. */
  routeIds: RouteIdRegistry;
  /** why-is-node-running, once handle tracking is on. */
  whyIsNodeRunning: (logger: { error(...args: unknown[]): void }) => void;
  /** Every ThreadPool not yet closed or destroyed, with its name: what the metrics exporters list. */
  livePools: Map<{ stats(): PoolStats }, string>;
  /** Every job queue (loopguard/queue) not yet closed, with its name: what the metrics exporters list. */
  liveQueues: Map<{ stats(): Record<string, QueueJobCounts> }, string>;
  /** threaded() wrapper (and the function it marks) → the Queue of `threaded(fn, { queue })`: every
   * build's route helpers (each CJS entry is its own bundle) find a marked function's queue here. */
  threadedQueues: WeakMap<object, object>;
  /** Set by otelMetrics(): the active OTel span's ids, read by the watchdog's capture while the main thread blocks. */
  readActiveSpan: () => { traceId: string; spanId: string } | undefined;
  /** Whether the adapters open an AsyncLocalStorage context per request (the monitor's `requestContext`, shared/request-context.ts). */
  requestContext: RequestContextSwitch;
}

export type GlobalName = keyof ProcessGlobals;

/** The `Symbol.for` key of a process-wide value, as a string for code that cannot import this module. */
export function globalKey(name: GlobalName): string {
  return `loopguard.v${VERSION}.${name}`;
}

type Holder = { [key: symbol]: unknown };

/** Read a process-wide value without creating it. */
export function getGlobal<K extends GlobalName>(name: K): ProcessGlobals[K] | undefined {
  return (globalThis as Holder)[Symbol.for(globalKey(name))] as ProcessGlobals[K] | undefined;
}

/** Set or clear (undefined) a process-wide value. */
export function setGlobal<K extends GlobalName>(name: K, value: ProcessGlobals[K] | undefined): void {
  (globalThis as Holder)[Symbol.for(globalKey(name))] = value;
}

/** The process-wide value, created by `create` if no copy of loopguard has made it yet. */
export function ensureGlobal<K extends GlobalName>(name: K, create: () => ProcessGlobals[K]): ProcessGlobals[K] {
  let value = getGlobal(name);
  if (value === undefined) {
    value = create();
    setGlobal(name, value);
  }
  return value;
}
