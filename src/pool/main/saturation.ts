import { getGlobal } from '../../shared/globals.js';

/**
 * One warning per saturation episode: a task waited `waited` ms for a thread; `queued` tasks
 * still wait as it is written (the pool's count, the one `maxQueue` bounds). This is the
 * Node form of thread-pool exhaustion, which FastAPI users meet as silently slow requests.
 */
export function warnSaturated(pool: string, queued: number, waited: number, threads: number): void {
  const waitMs = Math.round(waited);
  const message =
    `thread pool "${pool}" is saturated: a task waited ${waitMs} ms for a thread ` +
    `(${queued} queued, ${threads} threads); raise maxThreads or offload less`;
  const fields = { kind: 'pool-saturated', pool, queued, waitMs, threads };
  // The running monitor, if any, reports through the user's chosen log (pretty, JSON, logger).
  const monitor = getGlobal('monitor');
  if (typeof monitor?.warn === 'function') {
    // The monitor's reporter says whose warning it is ("loopguard: ") in its own format.
    monitor.warn(fields, message);
  } else {
    process.emitWarning(message, { type: 'LoopguardWarning', code: 'LOOPGUARD_POOL_SATURATED' });
  }
}
