import { AsyncResource } from 'node:async_hooks';
import type { TransferListItem } from 'node:worker_threads';
import type { FunctionDef } from './protocol.js';

/**
 * One submitted task. It is an AsyncResource made in the caller's async scope and settles
 * through it, so callbacks chained on the result run in the caller's AsyncLocalStorage
 * context whatever thread delivered it.
 */
export class Task extends AsyncResource {
  readonly def: FunctionDef;
  readonly args: unknown[];
  readonly transfer: TransferListItem[] | undefined;
  readonly timeout: number;
  readonly submittedAt: number;
  readonly signal: AbortSignal | undefined;
  startedAt = 0;
  /** Position among the tasks posted to its thread (1-based), 0 while not posted. */
  seq = 0;
  settled = false;
  /** How often it was put back after its thread died under another task. */
  retries = 0;
  /** The thread it was posted to (typed loosely: task.ts must not import thread.ts). */
  thread: { inflight: Fifo<Task> } | undefined;
  timer: NodeJS.Timeout | undefined;
  onAbort: (() => void) | undefined;
  private readonly resolveFn: (value: unknown) => void;
  private readonly rejectFn: (reason: unknown) => void;

  constructor(
    def: FunctionDef,
    args: unknown[],
    transfer: TransferListItem[] | undefined,
    timeout: number,
    signal: AbortSignal | undefined,
    submittedAt: number,
    resolve: (value: unknown) => void,
    reject: (reason: unknown) => void,
  ) {
    super('loopguard.PoolTask', { requireManualDestroy: true });
    this.def = def;
    this.args = args;
    this.transfer = transfer;
    this.timeout = timeout;
    this.signal = signal;
    this.submittedAt = submittedAt;
    this.resolveFn = resolve;
    this.rejectFn = reject;
  }

  /** Settle once; later calls are ignored (a late result after an abort, a crash after a result). */
  settle(ok: boolean, value: unknown): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort);
    this.runInAsyncScope(ok ? this.resolveFn : this.rejectFn, null, value);
    this.emitDestroy();
    return true;
  }
}

/** An array-backed FIFO: `shift()` on a plain array is O(n) once it grows past V8's fast path. */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Put tasks back at the front, keeping their order (work taken off a replaced thread). */
  unshiftAll(list: T[]): void {
    if (list.length === 0) return;
    this.items = [...list, ...this.items.slice(this.head)];
    this.head = 0;
  }

  /** Take everything out, in order. */
  drain(): T[] {
    const list = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return list;
  }
}
