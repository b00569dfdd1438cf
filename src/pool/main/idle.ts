import { performance } from 'node:perf_hooks';
import type { PoolThread } from './thread.js';

/**
 * Ends threads idle for `idleTimeout` beyond `minThreads`, with one unref'd timer for the
 * whole pool (not one per task: a thread goes idle after every task of a sequential caller).
 */
export class IdleReaper {
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly threads: readonly PoolThread[],
    private readonly idleTimeout: number,
    private readonly minThreads: number,
    private readonly end: (thread: PoolThread) => void,
  ) {}

  schedule(delay = this.idleTimeout): void {
    if (this.#timer !== undefined || this.idleTimeout === Infinity || this.threads.length <= this.minThreads) return;
    this.#timer = setTimeout(() => this.#sweep(), delay);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #sweep(): void {
    this.#timer = undefined;
    const now = performance.now();
    let nextDue = Infinity;
    for (const thread of [...this.threads]) {
      if (thread.load !== 0) continue;
      const idleFor = now - thread.idleSince;
      if (idleFor >= this.idleTimeout && this.threads.length > this.minThreads) this.end(thread);
      else nextDue = Math.min(nextDue, this.idleTimeout - idleFor);
    }
    if (nextDue !== Infinity) this.schedule(Math.max(1, nextDue));
  }
}
