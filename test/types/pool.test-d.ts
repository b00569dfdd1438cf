// Type tests for the pool (checked by `tsc --noEmit`, never run).
import { expectTypeOf } from 'vitest';
import {
  createPool,
  runInThreadpool,
  threaded,
  transfer,
  type PoolStats,
  type ThreadedFunction,
  type ThreadPool,
} from '../../src/index.js';

declare const hash: (password: string, rounds: number) => { digest: string };
declare const load: (id: number) => Promise<string[]>;

const threadedHash = threaded(hash);
expectTypeOf(threadedHash).toEqualTypeOf<ThreadedFunction<[password: string, rounds: number], { digest: string }>>();
expectTypeOf(threadedHash).parameters.toEqualTypeOf<[password: string, rounds: number]>();
expectTypeOf(threadedHash).returns.toEqualTypeOf<Promise<{ digest: string }>>();
// An async function's result is not wrapped twice.
expectTypeOf(threaded(load)).returns.toEqualTypeOf<Promise<string[]>>();

expectTypeOf(runInThreadpool((a: number, b: number) => a * b, 6, 7)).toEqualTypeOf<Promise<number>>();
// @ts-expect-error wrong argument type
void runInThreadpool((a: number) => a, 'six');

const pool: ThreadPool = createPool({ maxThreads: 2 });
expectTypeOf(pool.run(hash, ['pw', 10])).toEqualTypeOf<Promise<{ digest: string }>>();
expectTypeOf(pool.stats()).toEqualTypeOf<PoolStats>();
expectTypeOf(pool.stats().waitMs).toEqualTypeOf<{ p50: number; p99: number; max: number }>();

const buffer = new ArrayBuffer(8);
expectTypeOf(transfer(buffer, [buffer])).toEqualTypeOf<ArrayBuffer>();
// @ts-expect-error options are checked
createPool({ maxThread: 2 });
