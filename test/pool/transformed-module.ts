// A TypeScript module that vitest transforms (it is not under test/fixtures, which vitest
// leaves to Node): users test code with marked functions this way. The pool thread loads
// the same file natively through tsx.
import { threaded } from 'loopguard';

export const multiply = threaded(function multiply(a: number, b: number): number {
  return a * b;
});
