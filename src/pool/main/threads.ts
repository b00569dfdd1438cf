import { performance } from 'node:perf_hooks';
import { IdleReaper } from './idle.js';
import type { ResolvedPoolOptions } from './options.js';
import { inPoolWorker } from '../marking/registry.js';
import type { Task } from './task.js';
import { PoolThread, type ThreadHost } from './thread.js';

/**
 * Buffers one thread may hold in its pipeline. Depth is sized on run time measured in the
 * thread, which leaves out the cost of copying the arguments there: without this bound, 500
 * tasks of a 1 MiB buffer each (microseconds to run) were all posted in one tick.
 */
const MAX_BYTES_IN_FLIGHT = 1024 * 1024;

/**
 * The pool's threads: which one takes the next task, starting threads up to `maxThreads`
 * and keeping `minThreads` warm, and ending idle or condemned ones. Which task goes where and
 * when a task settles is the pool's business; this only counts threads and their loads.
 */
export class ThreadSet {
  readonly list: PoolThread[] = [];
  readonly #host: ThreadHost;
  readonly #options: ResolvedPoolOptions;
  readonly #reaper: IdleReaper;
  #terminated: Promise<void> = Promise.resolve();
  /** Read once: the pool thread's entry sets the flag before anything can make a pool, and
   * this runs after every batch of results. */
  readonly #inPoolWorker = inPoolWorker();

  constructor(host: ThreadHost, options: ResolvedPoolOptions) {
    this.#host = host;
    this.#options = options;
    this.#reaper = new IdleReaper(this.list, options.idleTimeout, options.minThreads, (thread) => this.end(thread));
  }

  /**
   * The thread for the next task: an idle one, else a new one while below maxThreads, else the
   * least loaded of those that accept it (fewer than `depth` tasks held, and fewer than the
   * depth of any task already there: see PoolThread.accepts; for a task carrying `bytes` of
   * buffers, fewer than MAX_BYTES_IN_FLIGHT of them with it), else none (the task waits).
   * Throws when a new Worker cannot be started.
   */
  pick(depth: number, bytes: number): PoolThread | undefined {
    let best: PoolThread | undefined;
    for (const thread of this.list) {
      const load = thread.load;
      if (load === 0) return thread;
      if (!thread.accepts(depth) || (best !== undefined && load >= best.load)) continue;
      // Summed only for a task that carries buffers, and only for a would-be best.
      if (bytes > 0 && thread.payloadBytes() + bytes > MAX_BYTES_IN_FLIGHT) continue;
      best = thread;
    }
    if (this.list.length < this.#options.maxThreads) return this.#spawn();
    return best;
  }

  /** A thread finished its last task: let the process exit, and end it if it stays idle. */
  idle(thread: PoolThread): void {
    thread.setReferenced(false);
    thread.idleSince = performance.now();
    this.#reaper.schedule();
  }

  /** Stop counting `thread` and terminate it; its tasks are the caller's to settle. */
  end(thread: PoolThread): void {
    thread.dead = true;
    this.remove(thread);
    void thread.worker.terminate();
  }

  /** Forget a thread that exited or was ended. */
  remove(thread: PoolThread): void {
    const index = this.list.indexOf(thread);
    if (index !== -1) this.list.splice(index, 1);
  }

  ensureMinThreads(closing: boolean): void {
    // A module that creates a pool at top level is imported by pool threads too: a pool made
    // there starts threads only when used, never warm ones of its own.
    if (this.#inPoolWorker) return;
    while (!closing && this.list.length < this.#options.minThreads) this.#spawn();
  }

  /** Whether a task submitted now would get a thread without queueing (for maxQueue). */
  hasRoom(): boolean {
    return this.list.length < this.#options.maxThreads || this.list.some((thread) => thread.load === 0);
  }

  allIdle(): boolean {
    return this.list.every((thread) => thread.load === 0);
  }

  /** Tasks taken off a thread that died or was ended, in the order it would have run them. */
  takeTasks(thread: PoolThread): Task[] {
    const tasks = [...thread.inflight.drain(), ...thread.outbox];
    thread.outbox = [];
    return tasks;
  }

  /**
   * End every thread; resolves once they and those of any earlier call have exited, so that
   * close() and destroy() racing each other both wait for the same end.
   */
  terminateAll(): Promise<void> {
    this.#reaper.stop();
    const ending = this.list.splice(0).map((thread) => {
      thread.dead = true;
      return thread.worker.terminate();
    });
    this.#terminated = Promise.all([this.#terminated, ...ending]).then(() => undefined);
    return this.#terminated;
  }

  #spawn(): PoolThread {
    const thread = new PoolThread(this.#host, this.#options.resourceLimits);
    thread.idleSince = performance.now();
    this.list.push(thread);
    return thread;
  }
}
