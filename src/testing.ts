// loopguard/testing: test helpers that fail on a blocked loop.
export interface ExpectNoBlockOptions {
  /** ms the loop may be blocked. @default 50 */
  threshold?: number;
}

export async function expectNoBlock(_fn: () => unknown, _options?: ExpectNoBlockOptions): Promise<void> {
  throw new Error('not implemented yet');
}
export { BlockedError } from './errors.js';
