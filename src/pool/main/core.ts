import { performance } from 'node:perf_hooks';
import {
  InvalidOptionTypeError,
  PoolClosedError,
  PoolQueueFullError,
  TaskTimeoutError,
  WorkerCrashedError,
} from '../../errors.js';
import { checkFunction, describeValue } from '../../shared/validate.js';
import { warnClassInstances } from '../marking/class-warning.js';
import { cloneErrorFor } from './clone-path.js';
import { attributeCrash } from './crash.js';
import { PoolMetrics, type PoolStats } from './metrics.js';
import { resolvePoolOptions, resolveRunOptions, type ResolvedPoolOptions } from './options.js';
import { TASK_CONTEXT } from '../../shared/globals.js';
import { RESULT_RUN_US, RESULT_STATUS, RESULT_STRIDE, RESULT_VALUE, STATUS_OK, type ResultBatch } from '../protocol.js';
import { definitionOf } from '../marking/registry.js';
import { reviveError } from './remote-error.js';
import { warnSaturated } from './saturation.js';
import { Fifo, Task, taskPromise } from './task.js';
import type { PoolThread, ThreadHost } from './thread.js';
import { ThreadSet } from './threads.js';
import { collectTransfers } from '../marking/transfer-list.js';

/** Class-instance warnings cost a prototype check per argument: development only. */
const developmentMode = process.env.NODE_ENV !== 'production';

const NO_ARGS: unknown[] = [];

/**
 * What a ThreadPool does: its queue, its threads and the settling of every task. Only the
 * ThreadPool facade (pool.ts) holds one, so the callbacks its threads call (ThreadHost) are
 * never reachable from user code.
 *
 * Tasks are pipelined: a thread gets several at once (how many adapts to their measured
 * run time) so tiny tasks pay one message per batch, not one per task.
 */
export class PoolCore implements ThreadHost {
  readonly #options: ResolvedPoolOptions;
  readonly #threads: ThreadSet;
  readonly #queue = new Fifo<Task>();
  readonly #metrics = new PoolMetrics();
  #flushScheduled = false;
  #closing = false;
  /** Everyone awaiting close(): each gets its own resolve, the way p-queue's onIdle() does. */
  #idleWaiters: Array<() => void> = [];
  #saturationWarned = false;
  readonly #flush = (): void => this.#flushAll();

  constructor(options: unknown) {
    this.#options = resolvePoolOptions(options);
    this.#threads = new ThreadSet(this, this.#options);
    this.#threads.ensureMinThreads(false);
  }

  run(fn: unknown, args: unknown, options: unknown): Promise<unknown> {
    let task: Task;
    let promise: Promise<unknown>;
    try {
      checkFunction('fn', fn);
      if (args !== undefined && !Array.isArray(args)) {
        throw new InvalidOptionTypeError(`args must be an array, got ${describeValue(args)}`);
      }
      const { signal, timeout, transfer } = resolveRunOptions(options);
      const def = definitionOf(fn as (...args: never[]) => unknown);
      if (this.#closing) throw new PoolClosedError();
      if (signal?.aborted === true) throw signal.reason;
      if (this.#options.maxQueue !== Infinity && this.#waiting() >= this.#options.maxQueue && !this.#threads.hasRoom()) {
        throw new PoolQueueFullError(this.#options.maxQueue);
      }
      // Not copied (a copy per task showed in the submit cost of tiny tasks): an arguments
      // array that is a Proxy fails here (Array.isArray throws when it is revoked) or when it
      // is posted, where a throwing trap fails only its task (PoolThread.postOrSplit).
      const list = (args ?? NO_ARGS) as unknown[];
      if (developmentMode) warnClassInstances(list);
      promise = taskPromise<unknown>();
      task = new Task(
        def,
        list,
        collectTransfers(list, transfer),
        timeout ?? this.#options.taskTimeout,
        signal,
        performance.now(),
        options === undefined ? undefined : (options as { [TASK_CONTEXT]?: unknown })[TASK_CONTEXT],
      );
    } catch (error) {
      return Promise.reject(error);
    }
    if (task.signal !== undefined) {
      task.onAbort = () => this.#abort(task);
      task.signal.addEventListener('abort', task.onAbort, { once: true });
    }
    this.#queue.push(task);
    this.#pump();
    return promise;
  }

  stats(): PoolStats {
    let busy = 0;
    for (const thread of this.#threads.list) if (thread.load > 0) busy++;
    const metrics = this.#metrics;
    return {
      threads: this.#threads.list.length,
      busy,
      queued: this.#waiting(),
      completed: metrics.completed,
      failed: metrics.failed,
      waitMs: metrics.waitMs(),
      runMs: metrics.runMs(),
      offloaded: [...metrics.offloaded],
    };
  }

  /** Finish queued and running tasks, then end every thread. New tasks are refused. */
  async close(): Promise<void> {
    this.#closing = true;
    if (!this.#isIdle()) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    await this.#threads.terminateAll();
  }

  /** Reject queued and running tasks with PoolClosedError and end every thread now. */
  async destroy(): Promise<void> {
    this.#closing = true;
    const error = new PoolClosedError('thread pool was destroyed');
    for (const task of this.#queue.drain()) this.#fail(task, error);
    for (const thread of this.#threads.list) {
      for (const task of this.#threads.takeTasks(thread)) this.#fail(task, error);
    }
    const ended = this.#threads.terminateAll();
    this.#wakeIdleWaiters();
    await ended;
  }

  /** threaded() reports a function that moved here for good (`offload: 'auto'`). */
  noteOffloaded(label: string): void {
    this.#metrics.offloaded.add(label);
  }

  // ThreadHost: called by PoolThread.

  onResults(thread: PoolThread, batch: ResultBatch): void {
    const count = batch.length / RESULT_STRIDE;
    const head = thread.inflight.peek();
    // Pipelined tasks started when the one before them ended: estimate from the thread's times.
    let clock = head?.startedAt ?? performance.now();
    for (let i = 0; i < count; i++) {
      const task = thread.inflight.shift();
      if (task === undefined) continue;
      const at = i * RESULT_STRIDE;
      const runMs = (batch[at + RESULT_RUN_US] as number) / 1000;
      this.#metrics.learnRunTime(task.def.index, runMs);
      const startedAt = task.startedAt ?? clock;
      clock = startedAt + runMs;
      if (task.settled) continue; // aborted while pipelined
      this.#metrics.recordTask(startedAt - task.submittedAt, runMs);
      if (batch[at + RESULT_STATUS] === STATUS_OK) {
        if (task.settle(true, batch[at + RESULT_VALUE])) this.#metrics.completed++;
      } else {
        this.#fail(task, reviveError(batch[at + RESULT_VALUE]));
      }
    }
    this.#startHead(thread);
    this.#afterProgress(thread);
  }

  onExit(thread: PoolThread, exitCode: number): void {
    this.#threads.remove(thread);
    if (thread.dead) return; // terminated by the pool, which already took its tasks
    thread.dead = true;
    const tasks = this.#threads.takeTasks(thread);
    const cause = thread.lastError;
    const reason = cause?.message ?? `it exited with code ${exitCode}`;
    const { culprits, requeued } = attributeCrash(tasks, thread.started);
    for (const task of culprits) {
      const label = task.def.name || 'a task';
      this.#fail(task, new WorkerCrashedError(`worker thread crashed while running ${label}: ${reason}`, { cause }));
    }
    this.#requeue(requeued);
    this.#afterProgress(undefined);
  }

  onCloneError(task: Task, error: unknown): void {
    let cloneError: unknown;
    try {
      cloneError = cloneErrorFor(task.args, error);
    } catch {
      // This runs in the microtask that posts a batch: nothing may escape it, or the host
      // crashes (or, under an uncaughtException handler, the rest of the batch never settles).
      cloneError = new DOMException('an argument could not be cloned to a worker thread', 'DataCloneError');
    }
    this.#fail(task, cloneError);
  }

  // Scheduling.

  /**
   * Tasks that wait (what `maxQueue` bounds and `stats().queued` counts): those in the queue
   * plus those handed to a busy thread behind the task it is running.
   */
  #waiting(): number {
    let pipelined = 0;
    for (const thread of this.#threads.list) if (thread.load > 1) pipelined += thread.load - 1;
    return this.#queue.length + pipelined;
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      const task = this.#queue.peek()!;
      if (task.settled) {
        this.#queue.shift();
        continue;
      }
      let thread: PoolThread | undefined;
      let depth: number;
      try {
        depth = this.#metrics.depth(task.def.index);
        thread = this.#threads.pick(depth, task.bytes);
      } catch (error) {
        // new Worker() itself failed (e.g. execArgv a worker refuses): fail the task, not run().
        this.#queue.shift();
        this.#fail(task, new WorkerCrashedError(`could not start a worker thread: ${(error as Error).message}`, { cause: error }));
        continue;
      }
      if (thread === undefined) return;
      this.#queue.shift();
      thread.outbox.push(task);
      thread.took(depth);
      thread.setReferenced(true);
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        queueMicrotask(this.#flush);
      }
    }
  }

  #flushAll(): void {
    this.#flushScheduled = false;
    for (const thread of this.#threads.list) {
      if (thread.outbox.length === 0) continue;
      thread.flush(this);
      this.#startHead(thread);
      // Every task of the batch failed to clone: the thread is idle again, give it the next ones.
      if (thread.load === 0) this.#afterProgress(thread);
    }
  }

  /** The thread's first unanswered task is running now: start its clock. */
  #startHead(thread: PoolThread): void {
    const head = thread.inflight.peek();
    if (head === undefined || head.startedAt !== undefined || head.settled) return;
    const now = performance.now();
    head.startedAt = now;
    if (head.timeout > 0 && head.timeout !== Infinity) this.#armTimeout(thread, head);
    const waited = now - head.submittedAt;
    // One warning per episode: it ends when a task gets a thread within queueWarning again.
    if (waited < this.#options.queueWarning) {
      this.#saturationWarned = false;
    } else if (this.#options.queueWarning > 0 && !this.#saturationWarned) {
      this.#saturationWarned = true;
      warnSaturated(this.#options.name, this.#waiting(), waited, this.#threads.list.length);
    }
  }

  /**
   * The timeout counts from the task's start in the thread. The thread counts the tasks it
   * started in shared memory: a new thread may still be booting (or importing) when its first
   * task is posted, so until the thread reaches the task, look again every 10 ms; from then
   * on, the task has its full time.
   */
  #armTimeout(thread: PoolThread, task: Task): void {
    const started = thread.started >= task.seq;
    task.timer = setTimeout(
      () => {
        if (thread.dead || task.settled) return;
        // The thread is past it: it finished in time and its result is on its way.
        if (thread.started > task.seq) return;
        if (started) this.#kill(thread, task, new TaskTimeoutError(task.timeout));
        else this.#armTimeout(thread, task);
      },
      started ? task.timeout : Math.min(task.timeout, 10),
    );
    task.timer.unref(); // the referenced worker keeps the process alive while it runs
  }

  #afterProgress(thread: PoolThread | undefined): void {
    if (thread !== undefined && thread.load === 0) this.#threads.idle(thread);
    this.#pump();
    this.#threads.ensureMinThreads(this.#closing);
    this.#wakeIdleWaiters();
  }

  #wakeIdleWaiters(): void {
    if (this.#idleWaiters.length === 0 || !this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** End a thread running `culprit` (timeout, abort): fail that task, requeue the rest. */
  #kill(thread: PoolThread, culprit: Task, reason: unknown): void {
    if (thread.dead || culprit.settled) return;
    this.#threads.end(thread);
    const tasks = this.#threads.takeTasks(thread);
    this.#fail(culprit, reason);
    this.#requeue(tasks.filter((task) => task !== culprit));
    this.#afterProgress(undefined);
  }

  #abort(task: Task): void {
    if (task.settled) return;
    const thread = task.thread as PoolThread | undefined;
    // Ending the thread is only for a task it is running: one it is already past has finished
    // (its result is on its way) and the thread may be running the next, which would run twice.
    if (thread !== undefined && !thread.dead && thread.inflight.peek() === task && thread.started <= task.seq) {
      this.#kill(thread, task, task.signal!.reason);
    } else {
      // Queued or pipelined behind another task: settle now, drop its result when it comes.
      this.#fail(task, task.signal!.reason);
      this.#pump();
    }
  }

  /** Put tasks taken off a dead thread back at the front of the queue, in their order. */
  #requeue(tasks: Task[]): void {
    const live = tasks.filter((task) => !task.settled);
    for (const task of live) {
      task.seq = 0;
      task.startedAt = undefined;
      task.thread = undefined;
      if (task.timer !== undefined) clearTimeout(task.timer);
      task.timer = undefined;
    }
    this.#queue.unshiftAll(live);
  }

  #fail(task: Task, error: unknown): void {
    if (task.settle(false, error)) this.#metrics.failed++;
  }

  #isIdle(): boolean {
    return this.#queue.length === 0 && this.#threads.allIdle();
  }
}

