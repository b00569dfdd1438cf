import { AsyncResource } from 'node:async_hooks';
import { types } from 'node:util';
import type { TransferListItem } from 'node:worker_threads';
import type { FunctionDef } from '../protocol.js';

let capturedResolve: ((value: unknown) => void) | undefined;
let capturedReject: ((reason: unknown) => void) | undefined;
function captureResolvers(resolve: (value: never) => void, reject: (reason: unknown) => void): void {
  capturedResolve = resolve as (value: unknown) => void;
  capturedReject = reject;
}

/**
 * The promise of the Task made right after it (which takes its resolvers). One shared
 * executor instead of a closure and its context per task: the Promise constructor calls it
 * synchronously, so nothing can come between.
 */
export function taskPromise<T>(): Promise<T> {
  return new Promise<T>(captureResolvers);
}

interface TaskExtra {
  transfer: TransferListItem[] | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  timer: NodeJS.Timeout | undefined;
  bytes: number;
  context: unknown;
}

/** Bytes of ArrayBuffers and views among the top-level arguments that a post copies (nested ones are not counted). */
function payloadBytes(args: unknown[]): number {
  let bytes = 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    // Primitives first: the common tiny task never reaches the two builtin checks.
    if (typeof arg !== 'object' || arg === null) continue;
    // A view of shared memory is not copied: it costs the thread nothing to receive.
    if (ArrayBuffer.isView(arg)) bytes += arg.buffer instanceof SharedArrayBuffer ? 0 : arg.byteLength;
    // instanceof reads the prototype: a Proxy's trap would run (a revoked one throws). Such an
    // argument fails the task when it is posted, with a DataCloneError naming it.
    else if (!types.isProxy(arg) && arg instanceof ArrayBuffer) bytes += arg.byteLength;
  }
  return bytes;
}

/** One object for every task: the options literal would be garbage per task otherwise. */
const RESOURCE_OPTIONS = { requireManualDestroy: true };

/**
 * One submitted task. It is an AsyncResource made in the caller's async scope and settles
 * through it, so callbacks chained on the result run in the caller's AsyncLocalStorage
 * context whatever thread delivered it.
 */
export class Task extends AsyncResource {
  readonly def: FunctionDef;
  readonly args: unknown[];
  readonly timeout: number;
  readonly submittedAt: number;
  /**
   * When the task started (main thread's clock), undefined until then. Not 0: a field that
   * holds a small integer and later a double gets a heap-number box in every task at
   * construction; one that starts undefined allocates a number only for tasks that start
   * while at the head of a thread (16 bytes less per queued task).
   */
  startedAt: number | undefined = undefined;
  /** Position among the tasks posted to its thread (1-based), 0 while not posted. */
  seq = 0;
  /** How often it was put back after its thread died under another task. */
  retries = 0;
  /** The thread it was posted to (typed loosely: task.ts must not import thread.ts). */
  thread: { inflight: Fifo<Task> } | undefined;
  /**
   * What few tasks have (buffers to move, a signal, a timeout timer), in one object made only
   * for them: four fields less in every task, and a queued task is what a burst is made of.
   */
  #extra: TaskExtra | undefined;
  /** Cleared when the task settles (which is what `settled` reads): no field of its own. */
  private resolveFn: ((value: unknown) => void) | undefined;
  private rejectFn: ((reason: unknown) => void) | undefined;

  constructor(
    def: FunctionDef,
    args: unknown[],
    transfer: TransferListItem[] | undefined,
    timeout: number,
    signal: AbortSignal | undefined,
    submittedAt: number,
    context?: unknown,
  ) {
    super('loopguard.PoolTask', RESOURCE_OPTIONS);
    if (capturedResolve === undefined || capturedReject === undefined) {
      throw new Error('loopguard internal error: a Task must be made right after its taskPromise()');
    }
    this.def = def;
    this.args = args;
    this.timeout = timeout;
    this.submittedAt = submittedAt;
    const bytes = payloadBytes(args);
    if (transfer !== undefined || signal !== undefined || bytes > 0 || context !== undefined) {
      this.#extra = { transfer, signal, onAbort: undefined, timer: undefined, bytes, context };
    }
    this.resolveFn = capturedResolve;
    this.rejectFn = capturedReject;
    capturedResolve = capturedReject = undefined;
  }

  /** Bytes of binary data among the top-level arguments (see {@link payloadBytes}). */
  get bytes(): number {
    return this.#extra?.bytes ?? 0;
  }

  get transfer(): TransferListItem[] | undefined {
    return this.#extra?.transfer;
  }

  get signal(): AbortSignal | undefined {
    return this.#extra?.signal;
  }

  /** The internal TASK_CONTEXT run option's value. */
  get context(): unknown {
    return this.#extra?.context;
  }

  get onAbort(): (() => void) | undefined {
    return this.#extra?.onAbort;
  }

  set onAbort(listener: (() => void) | undefined) {
    (this.#extra ??= { transfer: undefined, signal: undefined, onAbort: undefined, timer: undefined, bytes: 0, context: undefined }).onAbort = listener;
  }

  get timer(): NodeJS.Timeout | undefined {
    return this.#extra?.timer;
  }

  set timer(timer: NodeJS.Timeout | undefined) {
    if (timer === undefined && this.#extra === undefined) return;
    (this.#extra ??= { transfer: undefined, signal: undefined, onAbort: undefined, timer: undefined, bytes: 0, context: undefined }).timer = timer;
  }

  get settled(): boolean {
    return this.resolveFn === undefined;
  }

  /** Settle once; later calls are ignored (a late result after an abort, a crash after a result). */
  settle(ok: boolean, value: unknown): boolean {
    const resolve = this.resolveFn;
    const reject = this.rejectFn;
    if (resolve === undefined || reject === undefined) return false;
    this.resolveFn = this.rejectFn = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort);
    this.runInAsyncScope(ok ? resolve : reject, null, value);
    this.emitDestroy();
    return true;
  }
}

/**
 * A FIFO on a circular array that doubles when full. Every task passes through two of these
 * (the pool's queue, then its thread's in-flight list), so neither `shift()` on a plain array
 * (O(n) past V8's fast path) nor periodic compacting copies (garbage per task) are acceptable.
 */
export class Fifo<T> {
  private items: (T | undefined)[] = new Array<T | undefined>(16);
  private head = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(item: T): void {
    if (this.size === this.items.length) this.grow();
    this.items[(this.head + this.size) & (this.items.length - 1)] = item;
    this.size++;
  }

  peek(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.head];
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.size--;
    return item;
  }

  /** Put tasks back at the front, keeping their order (work taken off a replaced thread). */
  unshiftAll(list: T[]): void {
    if (list.length === 0) return;
    const rest = this.drain();
    for (const item of list) this.push(item);
    for (const item of rest) this.push(item);
  }

  /** Sum of `value(item)` over the items. */
  sum(value: (item: T) => number): number {
    let total = 0;
    const mask = this.items.length - 1;
    for (let i = 0; i < this.size; i++) total += value(this.items[(this.head + i) & mask]!);
    return total;
  }

  /** Take everything out, in order. */
  drain(): T[] {
    const list = new Array<T>(this.size);
    const mask = this.items.length - 1;
    for (let i = 0; i < this.size; i++) list[i] = this.items[(this.head + i) & mask]!;
    this.items = new Array<T | undefined>(16);
    this.head = 0;
    this.size = 0;
    return list;
  }

  private grow(): void {
    const items = new Array<T | undefined>(this.items.length * 2);
    const mask = this.items.length - 1;
    for (let i = 0; i < this.size; i++) items[i] = this.items[(this.head + i) & mask];
    this.items = items;
    this.head = 0;
  }
}
