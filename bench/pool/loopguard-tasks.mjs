// The same tasks for loopguard: marked where they are defined, no worker file.
import { threaded } from 'loopguard';

export const add = threaded(function add(a, b) {
  return a + b;
});

export const spin = threaded(function spin(ms) {
  const end = performance.now() + ms;
  while (performance.now() < end);
  return ms;
});

export const byteLength = threaded(function byteLength(buffer) {
  return buffer.byteLength;
});
