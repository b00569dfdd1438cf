import { ensureGlobal } from '../../shared/globals.js';
import { PoolCore } from './core.js';
import type { PoolStats } from './metrics.js';
import type { PoolOptions, RunOptions } from './options.js';

export type { PoolOptions, RunOptions } from './options.js';
export type { PoolStats } from './metrics.js';

/**
 * Pool → how threaded() tells it that a function moved there for good (`offload: 'auto'`).
 * Process-wide, because the pool may come from the other build (the default pool is shared
 * by both); a WeakMap, not a method, so that nothing of the pool's inside is on the instance.
 */
const offloadNotes = ensureGlobal('poolOffloadNotes', () => new WeakMap<object, (label: string) => void>());

/** Every pool not yet closed or destroyed, with its name: what loopguard/prometheus and /otel list. */
const livePools = ensureGlobal('livePools', () => new Map());

/**
 * A pool of worker threads running marked (threaded()) or self-contained functions. Tasks
 * are pipelined: a thread gets several at once (how many adapts to their measured run time),
 * so tiny tasks pay one message per batch, not one per task.
 *
 * `await using pool = createPool()` closes it at the end of the scope.
 */
export class ThreadPool implements AsyncDisposable {
  readonly #impl: PoolCore;

  constructor(options?: PoolOptions) {
    const impl = new PoolCore(options);
    this.#impl = impl;
    offloadNotes.set(this, (label) => impl.noteOffloaded(label));
    // PoolCore validated the name; its default is 'pool' (options.ts).
    livePools.set(this, typeof options?.name === 'string' ? options.name : 'pool');
  }

  /** Run `fn(...args)` in a thread: a threaded() function, or a self-contained one sent as source. */
  run<A extends unknown[], R>(fn: (...args: A) => R, args?: A, options?: RunOptions): Promise<Awaited<R>> {
    return this.#impl.run(fn, args, options) as Promise<Awaited<R>>;
  }

  /** Threads, busy threads, waiting tasks (`queued`, as `maxQueue` counts them), counts and timings. */
  stats(): PoolStats {
    return this.#impl.stats();
  }

  /**
   * Finish queued and running tasks, then end every thread. New tasks are refused. Any number
   * of callers may await it; each is resolved once the threads have ended.
   */
  close(): Promise<void> {
    return this.#impl.close().finally(() => livePools.delete(this));
  }

  /** Reject queued and running tasks with `PoolClosedError` and end every thread now. */
  destroy(): Promise<void> {
    return this.#impl.destroy().finally(() => livePools.delete(this));
  }

  /**
   * `await using pool = createPool(…)`: the same as {@link close}. Node defines
   * Symbol.asyncDispose from 20.4 on (the supported range starts at 20.19).
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

export function createPool(options?: PoolOptions): ThreadPool {
  return new ThreadPool(options);
}

/** threaded() with `offload: 'auto'`: `label` moved to `pool` for good (listed in its stats). */
export function noteOffloaded(pool: object, label: string): void {
  offloadNotes.get(pool)?.(label);
}
