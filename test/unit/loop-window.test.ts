/**
 * The exporters' window (src/telemetry/window.ts) records the monitor's own heartbeat lateness
 * when the monitor offers it, so an exporter adds no sampling timer to an idle process.
 */
import { describe, expect, it } from 'vitest';
import { LoopWindow } from '../../src/telemetry/window.js';
import type { Monitor } from '../../src/types.js';

/** A monitor stand-in that hands out its lateness listener, as monitor.ts's eachLateness does. */
function feedingMonitor(): { monitor: Monitor; beat(ms: number): void; listeners(): number } {
  let listeners: Array<(ms: number) => void> = [];
  const monitor = {
    on() {},
    off() {},
    eachLateness(listener: (ms: number) => void) {
      listeners.push(listener);
      return () => {
        listeners = listeners.filter((entry) => entry !== listener);
      };
    },
  } as unknown as Monitor;
  return { monitor, beat: (ms) => listeners.forEach((listener) => listener(ms)), listeners: () => listeners.length };
}

describe('LoopWindow', () => {
  it("reads the monitor's heartbeat lateness, not a sampler of its own, and stops listening on stop()", () => {
    const { monitor, beat, listeners } = feedingMonitor();
    const window = new LoopWindow(monitor);
    expect(listeners()).toBe(1);
    for (let i = 0; i < 98; i++) beat(0);
    beat(40);
    beat(80);
    const { delay } = window.read();
    // The samples are the delays themselves: nothing is subtracted (an own sampler's interval would be).
    expect(delay.max).toBeGreaterThanOrEqual(79);
    expect(delay.max).toBeLessThanOrEqual(81);
    expect(delay.p50).toBeLessThan(1);
    expect(delay.p99).toBeGreaterThanOrEqual(39);
    window.stop();
    expect(listeners()).toBe(0);
  });

  it('starts a new window on read: an old beat is not read again', async () => {
    const { monitor, beat } = feedingMonitor();
    const window = new LoopWindow(monitor);
    beat(120);
    expect(window.read().delay.max).toBeGreaterThanOrEqual(119);
    // Reads closer than a second give the previous window again (window.ts MIN_WINDOW_MS).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    beat(2);
    expect(window.read().delay.max).toBeLessThan(10);
    window.stop();
  });

  it('falls back to a delay histogram of its own for a monitor without the feed', () => {
    const window = new LoopWindow({ on() {}, off() {} } as unknown as Monitor);
    const { delay } = window.read();
    expect(delay.max).toBeGreaterThanOrEqual(0);
    window.stop();
  });
});
