/**
 * The watchdog's own gaps (src/watchdog/thread/judge.ts): a look that comes far late while the
 * process hardly ran is a gap the main thread judges 'host' on (monitor/cause.ts hostTime).
 */
import { describe, expect, it } from 'vitest';
import { MainThreadWatch } from '../../src/watchdog/thread/judge.js';
import { hostTime } from '../../src/monitor/cause.js';
import { SLOT_COUNT } from '../../src/watchdog/protocol.js';

function watched(threshold: number): { watch: MainThreadWatch; shared: Int32Array } {
  const shared = new Int32Array(new SharedArrayBuffer(SLOT_COUNT * Int32Array.BYTES_PER_ELEMENT));
  return { watch: new MainThreadWatch(shared.buffer as SharedArrayBuffer, threshold), shared };
}

describe('MainThreadWatch gaps', () => {
  it("keeps a 300 ms stop that began while an idle watchdog slept a whole threshold (the slow beat's sleep)", () => {
    const { watch, shared } = watched(100);
    const t0 = performance.now();
    // An idle look plans to sleep until the beat is a threshold old (+ margin): ~112 ms.
    watch.look(t0, 1, 0, 112);
    // The process stopped for 300 ms during that sleep: the next look comes ~290 ms late.
    const late = watch.look(t0 + 112 + 290, 1, 0, 112);
    // Before: a gap had to be 3 × the planned sleep (336 ms) late to count, so it was lost.
    expect(late).toBeCloseTo(290, 0);
    const from = performance.timeOrigin + t0;
    expect(hostTime(shared, from, from + 420)).toBeCloseTo(290, 0);
    watch.close();
  });

  it('ignores a look a few ms late, however long the sleep', () => {
    const { watch, shared } = watched(100);
    const t0 = performance.now();
    watch.look(t0, 1, 0, 112);
    expect(watch.look(t0 + 112 + 40, 1, 0, 112)).toBe(0);
    expect(watch.look(t0 + 112 + 40 + 25 + 60, 1, 0, 25)).toBe(0);
    const from = performance.timeOrigin + t0;
    expect(hostTime(shared, from, from + 1000)).toBe(0);
    watch.close();
  });
});
