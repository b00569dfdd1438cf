// Route functions that run wholly in the thread pool. A module of its own, without start-up
// side effects: each worker thread imports it to find the marked function.
import { threaded } from 'loopguard';

/**
 * Receives `{ params, query, body, headers }` (plain copies) and returns what is sent as JSON.
 * Throwing an error with a `statusCode` (or `status`) answers with that status.
 */
export const renderReport = threaded(function renderReport({ params, query }) {
  const days = Number(query.days ?? 30);
  if (!Number.isInteger(days) || days < 1 || days > 365) {
    throw Object.assign(new Error('days must be an integer from 1 to 365'), { statusCode: 400 });
  }
  // Stand-in for real number crunching: a few hundred ms of CPU.
  const totals = [];
  let seed = params.id.length;
  for (let day = 0; day < days; day++) {
    let total = 0;
    for (let i = 0; i < 1_000_000; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      total += seed % 100;
    }
    totals.push(total);
  }
  return { report: params.id, days, average: totals.reduce((a, b) => a + b, 0) / days };
});
