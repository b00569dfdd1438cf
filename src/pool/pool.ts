export interface PoolOptions {
  minThreads?: number;
  maxThreads?: number;
  idleTimeout?: number;
  maxQueue?: number;
  taskTimeout?: number;
  queueWarning?: number;
  resourceLimits?: import('node:worker_threads').ResourceLimits;
  name?: string;
}
export interface RunOptions {
  signal?: AbortSignal;
  timeout?: number;
  transfer?: import("node:worker_threads").TransferListItem[];
}
export interface PoolStats {
  threads: number;
  busy: number;
  queued: number;
  completed: number;
  failed: number;
  waitMs: { p50: number; p99: number; max: number };
  runMs: { p50: number; p99: number; max: number };
}
export class ThreadPool {
  constructor(_options?: PoolOptions) {
    throw new Error('not implemented yet');
  }
}
export function createPool(options?: PoolOptions): ThreadPool {
  return new ThreadPool(options);
}
