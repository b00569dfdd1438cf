import type { ThreadPool } from './pool.js';

export interface ThreadedOptions {
  pool?: ThreadPool;
  timeout?: number;
  name?: string;
  offload?: 'always' | 'auto';
  threshold?: number;
  concurrency?: number;
  module?: string;
}
export type ThreadedFunction<A extends unknown[], R> = (...args: A) => Promise<Awaited<R>>;

export function threaded<A extends unknown[], R>(_fn: (...args: A) => R, _options?: ThreadedOptions): ThreadedFunction<A, R> {
  throw new Error('not implemented yet');
}
export function runInThreadpool<A extends unknown[], R>(_fn: (...args: A) => R, ..._args: A): Promise<Awaited<R>> {
  throw new Error('not implemented yet');
}
export function transfer<T>(value: T, _list: import("node:worker_threads").TransferListItem[]): T {
  return value;
}
