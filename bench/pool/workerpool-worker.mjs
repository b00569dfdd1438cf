// Worker file for workerpool: functions registered by name.
import workerpool from 'workerpool';

workerpool.worker({
  add: (a, b) => a + b,
  spin: (ms) => {
    const end = performance.now() + ms;
    while (performance.now() < end);
    return ms;
  },
  byteLength: (buffer) => buffer.byteLength,
});
