import { threaded } from 'loopguard';

/** A few hundred ms of CPU: the kind of work that must not run on the event loop. */
export function countPrimes(limit) {
  let count = 0;
  for (let n = 2; n < limit; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
}

/** The route function for offload(): `{ params, query }` in, JSON out, run in a worker. */
export const primesReport = threaded(function primesReport({ query }) {
  const limit = Number(query.limit ?? 2_000_000);
  return { limit, primes: countPrimes(limit) };
});
