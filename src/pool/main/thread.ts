import { Worker, type ResourceLimits, type TransferListItem } from 'node:worker_threads';
import { workerUrl } from '../../shared/worker-url.js';
import {
  CONTROL_SLOTS,
  SLOT_DOORBELL,
  SLOT_STARTED,
  SOURCE_CACHE_SIZE,
  TASK_ARG_COUNT,
  TASK_ARGS,
  TASK_FUNCTION,
  type FunctionDef,
  type PoolWorkerData,
  type ResultBatch,
  type TaskBatch,
} from '../protocol.js';
import { Fifo, type Task } from './task.js';

export interface ThreadHost {
  onResults(thread: PoolThread, batch: ResultBatch): void;
  onExit(thread: PoolThread, exitCode: number): void;
  onCloneError(task: Task, error: unknown): void;
}

/** The main thread's handle on one pool thread: what was posted to it, in order. */
export class PoolThread {
  readonly worker: Worker;
  private readonly control: Int32Array;
  /** Posted to the thread and not yet answered, in the order the thread runs them. */
  readonly inflight = new Fifo<Task>();
  /** Assigned during this tick; posted together by {@link flush}. */
  outbox: Task[] = [];
  private posted = 0;
  /** Marked functions the thread was sent (few: one per threaded() call). */
  private readonly defined = new Set<number>();
  /** Self-contained functions the thread holds, least recently used first (at most SOURCE_CACHE_SIZE). */
  private readonly sources = new Map<number, true>();
  idleSince = 0;
  referenced = false;
  /** Terminated by the pool, or exited: its messages and exit no longer count. */
  dead = false;
  lastError: Error | undefined;

  constructor(host: ThreadHost, resourceLimits: ResourceLimits | undefined) {
    const control = new SharedArrayBuffer(CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT);
    this.control = new Int32Array(control);
    const workerData: PoolWorkerData = { control };
    // execArgv is inherited by default, so `--import tsx` (or NODE_OPTIONS) reaches the thread.
    this.worker = new Worker(workerUrl('pool-worker'), {
      workerData,
      ...(resourceLimits === undefined ? {} : { resourceLimits }),
    });
    this.worker.on('message', (batch: ResultBatch) => {
      if (!this.dead) host.onResults(this, batch);
    });
    this.worker.on('error', (error: Error) => {
      this.lastError = error;
    });
    this.worker.on('exit', (code: number) => host.onExit(this, code));
    // Idle until given work; unref after adding the listeners, which would ref it again.
    this.worker.unref();
  }

  /** Tasks given to this thread and not answered yet. */
  get load(): number {
    return this.inflight.length + this.outbox.length;
  }

  /**
   * The lowest pipeline depth of the tasks given since the thread was last empty: a thread
   * holding a long task (depth 1) must not take tiny ones (depth 2,048) to run after it, or
   * they would wait the long task out while another thread is free for them.
   */
  private depthCap = Number.POSITIVE_INFINITY;

  /** Whether a task whose function allows `depth` tasks per thread may join this thread now. */
  accepts(depth: number): boolean {
    const load = this.load;
    return load < depth && load < this.depthCap;
  }

  /** Call right after a task of depth `depth` was added to the outbox. */
  took(depth: number): void {
    this.depthCap = this.load === 1 ? depth : Math.min(this.depthCap, depth);
  }

  /** Bytes of binary arguments given to this thread and not answered yet. */
  payloadBytes(): number {
    let bytes = 0;
    for (const task of this.outbox) bytes += task.bytes;
    return bytes + this.inflight.sum(taskBytes);
  }

  /** How many tasks the thread has started: the crash culprit is the one with this `seq`. */
  get started(): number {
    return Atomics.load(this.control, SLOT_STARTED);
  }

  setReferenced(referenced: boolean): void {
    if (this.referenced === referenced) return;
    this.referenced = referenced;
    if (referenced) this.worker.ref();
    else this.worker.unref();
  }

  /** Post everything assigned this tick as one message; a task that cannot be cloned fails alone. */
  flush(host: ThreadHost): void {
    const tasks = this.outbox;
    this.outbox = [];
    let first = 0;
    let bytes = 0;
    for (let i = 0; i < tasks.length; i++) {
      const task = tasks[i]!;
      if (task.settled) continue;
      bytes += task.bytes;
      // Big buffers go in messages of their own size class: one huge message would make the
      // thread wait for all of it to be copied before starting the first task.
      if (bytes >= BATCH_BYTES) {
        this.postOrSplit(tasks, first, i + 1, host);
        first = i + 1;
        bytes = 0;
      }
    }
    if (first < tasks.length) this.postOrSplit(tasks, first, tasks.length, host);
  }

  /** Post `tasks[first..end)` (ranges, not copies: no garbage per flush). */
  private postOrSplit(tasks: Task[], first: number, end: number, host: ThreadHost): void {
    try {
      this.post(tasks, first, end);
    } catch {
      for (let i = first; i < end; i++) {
        try {
          this.post(tasks, i, i + 1);
        } catch (error) {
          host.onCloneError(tasks[i]!, error);
        }
      }
    }
  }

  /**
   * The least recently used sources to drop so that the thread holds at most SOURCE_CACHE_SIZE
   * once this batch's are added; never one that this batch uses (it may hold more until the
   * next batch when one batch alone uses more).
   */
  private sourcesToForget(used: Set<number>): number[] | null {
    let size = this.sources.size;
    for (const index of used) if (!this.sources.has(index)) size++;
    let forget: number[] | null = null;
    for (const index of this.sources.keys()) {
      if (size <= SOURCE_CACHE_SIZE) break;
      if (used.has(index)) continue;
      (forget ??= []).push(index);
      size--;
    }
    return forget;
  }

  private post(tasks: Task[], first: number, end: number): void {
    let defs: FunctionDef[] | null = null;
    let used: Set<number> | null = null;
    let transfer: TransferListItem[] | undefined;
    let length = 0;
    for (let i = first; i < end; i++) if (!tasks[i]!.settled) length += TASK_ARGS + tasks[i]!.args.length;
    if (length === 0) return; // every task was aborted while waiting here
    const flat = packedArray(length);
    let at = 0;
    let ordinal = 0;
    let contexts: unknown[] | undefined;
    for (let i = first; i < end; i++) {
      const task = tasks[i]!;
      if (task.settled) continue;
      const context = task.context;
      if (context !== undefined) (contexts ??= []).push(ordinal, context);
      ordinal++;
      const def = task.def;
      if (def.source !== undefined) {
        (used ??= new Set()).add(def.index);
        if (!this.sources.has(def.index) && (defs === null || !defs.includes(def))) (defs ??= []).push(def);
      } else if (!this.defined.has(def.index) && (defs === null || !defs.includes(def))) {
        (defs ??= []).push(def);
      }
      const args = task.args;
      flat[at + TASK_FUNCTION] = def.index;
      flat[at + TASK_ARG_COUNT] = args.length;
      at += TASK_ARGS;
      for (let j = 0; j < args.length; j++) flat[at++] = args[j];
      if (task.transfer !== undefined) (transfer ??= []).push(...task.transfer);
    }
    const forget = used === null ? null : this.sourcesToForget(used);
    const batch: TaskBatch = contexts === undefined ? { forget, defs, tasks: flat } : { forget, defs, tasks: flat, contexts };
    this.worker.postMessage(batch, transfer);
    // Wake the thread if it waits on the doorbell (see worker-idle.ts); the message is queued.
    Atomics.add(this.control, SLOT_DOORBELL, 1);
    Atomics.notify(this.control, SLOT_DOORBELL, 1);
    if (defs !== null) for (const def of defs) if (def.source === undefined) this.defined.add(def.index);
    if (used !== null) {
      if (forget !== null) for (const index of forget) this.sources.delete(index);
      for (const index of used) {
        this.sources.delete(index); // to the most recently used end
        this.sources.set(index, true);
      }
    }
    for (let i = first; i < end; i++) {
      const task = tasks[i]!;
      if (task.settled) continue;
      task.seq = ++this.posted;
      task.thread = this;
      this.inflight.push(task);
    }
  }
}

/**
 * An array of `length` nulls without holes. `new Array(n)` is holey, which structured clone
 * writes as a sparse object, key by key (measured 5× slower to post, 3× slower to read, twice
 * the bytes); growing one with push leaves its outgrown copies as garbage (~100 bytes per
 * tiny task). A slice of a packed array is packed and exactly sized. Nulls, not zeros, so
 * that storing objects or doubles never changes its elements kind (a copy).
 */
let nulls: null[] = [];
function packedArray(length: number): unknown[] {
  if (nulls.length < length) nulls = Array.from({ length: Math.max(length, nulls.length * 2) }, () => null);
  return nulls.slice(0, length);
}

const taskBytes = (task: Task): number => task.bytes;

/** A batch is posted once its arguments carry this many bytes of binary data. */
const BATCH_BYTES = 256 * 1024;
