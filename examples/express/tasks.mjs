// CPU-heavy work lives in its own module with no start-up side effects, so that a worker
// thread can import it and find the marked function again.
import { threaded } from 'loopguard';

/** Key stretching in plain JavaScript: a few hundred ms of CPU per call. */
export function hashPassword(password) {
  let hash = 0x811c9dc5;
  for (let round = 0; round < 150_000_000; round++) {
    hash = Math.imul(hash ^ password.charCodeAt(round % password.length), 0x01000193);
  }
  return (hash >>> 0).toString(16);
}

/** The same function, run in loopguard's thread pool: `await hashPasswordOffLoop('pw')`. */
export const hashPasswordOffLoop = threaded(hashPassword);
