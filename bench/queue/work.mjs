// The work every variant of the queue benchmark runs: the same functions, plain for the raw
// clients' processors and marked with threaded() for loopguard (tasks.mjs).
export function add(a, b) {
  return a + b;
}

/** `ms` of CPU: a job that would block a processor's loop for that long. */
export function spin(ms) {
  const end = performance.now() + ms;
  let turns = 0;
  while (performance.now() < end) turns += 1;
  return turns;
}
