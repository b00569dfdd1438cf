// The benchmark's work marked with threaded(): the caller runs it on its own thread pool
// (`add(1, 2)`) or on a queue (`queue.run(add, [1, 2])`), and `loopguard worker` loads this
// module to find the functions by name.
import { threaded } from '../../dist/index.js';
import * as work from './work.mjs';

export const add = threaded(function add(a, b) {
  return work.add(a, b);
});

export const spin = threaded(function spin(ms) {
  return work.spin(ms);
});
