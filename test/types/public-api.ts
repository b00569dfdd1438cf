// Type tests, checked by `tsc --noEmit` (npm test runs it): the public signatures keep the
// parameter and return types of marked functions and expose no `any`.
import { runInThreadpool, threaded, type BlockEvent, type LibuvStats, type Monitor, type MonitorOptions } from '../../src/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

declare function hash(password: string, rounds: number): string;
declare function fetchUser(id: number): Promise<{ id: number }>;

export const threadedHash = threaded(hash);
export const threadedFetch = threaded(fetchUser);

export type Checks = [
  Expect<Equal<typeof threadedHash, (password: string, rounds: number) => Promise<string>>>,
  Expect<Equal<typeof threadedFetch, (id: number) => Promise<{ id: number }>>>,
  Expect<Equal<ReturnType<typeof runInThreadpool<[number, number], number>>, Promise<number>>>,
  Expect<Equal<BlockEvent['cause'], 'js' | 'native' | 'gc' | 'wait' | 'host' | 'unknown'>>,
  Expect<Equal<BlockEvent['stackLate'], true | undefined>>,
  Expect<Equal<BlockEvent['stacks'], BlockEvent['stack'][] | undefined>>,
  Expect<Equal<ReturnType<Monitor['stop']>, Promise<void>>>,
  // `await using monitor = startMonitor()`
  Expect<Equal<ReturnType<Monitor[typeof Symbol.asyncDispose]>, Promise<void>>>,
  Expect<Equal<MonitorOptions['nativeCalls'], boolean | undefined>>,
  Expect<Equal<MonitorOptions['libuv'], boolean | undefined>>,
  // Absent with libuv: false.
  Expect<Equal<ReturnType<Monitor['stats']>['libuv'], LibuvStats | undefined>>,
  Expect<Equal<LibuvStats, { delay: { p50: number; p99: number; max: number }; saturatedMs: number }>>,
];
