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

  it("gives the fed samples' exact min, max, mean and stddev (the percentiles stay the histogram's)", () => {
    // Kept per sample, not read off the histogram: its mean and stddev walk every bucket (most of
    // a fresh window's read) and give bucket values, ~0.05% off; these must be the samples' own.
    const { monitor, beat } = feedingMonitor();
    const window = new LoopWindow(monitor);
    const samples = [0, 1.234567, 2.5, 7.654321, 10.000001, 0.3];
    for (const ms of samples) beat(ms);
    const { delay } = window.read();
    const mean = samples.reduce((sum, ms) => sum + ms, 0) / samples.length;
    const stddev = Math.sqrt(samples.reduce((sum, ms) => sum + (ms - mean) ** 2, 0) / samples.length);
    expect(delay.min).toBe(0);
    expect(delay.max).toBe(10.000001);
    expect(delay.mean).toBeCloseTo(mean, 9);
    expect(delay.stddev).toBeCloseTo(stddev, 9);
    // The percentiles, from the histogram, within its 3 significant figures.
    expect(delay.p50).toBeGreaterThan(1.23);
    expect(delay.p50).toBeLessThan(2.51);
    expect(delay.p99).toBeGreaterThan(9.99);
    expect(delay.p99).toBeLessThan(10.02);
    window.stop();
  });

  it('starts a new window on read: an old beat is not read again', async () => {
    const { monitor, beat } = feedingMonitor();
    const window = new LoopWindow(monitor);
    beat(120);
    expect(window.read().delay.max).toBeGreaterThanOrEqual(119);
    // Reads closer than a second give the previous window again (window.ts MIN_WINDOW_MS).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    beat(2);
    beat(4.5);
    const { delay } = window.read();
    expect(delay.max).toBe(4.5);
    // The new window's moments are its own samples' only.
    expect(delay.min).toBe(2);
    expect(delay.mean).toBeCloseTo(3.25, 9);
    expect(delay.stddev).toBeCloseTo(1.25, 9);
    window.stop();
  });

  it('falls back to a delay histogram of its own for a monitor without the feed', () => {
    const window = new LoopWindow({ on() {}, off() {} } as unknown as Monitor);
    const { delay } = window.read();
    expect(delay.max).toBeGreaterThanOrEqual(0);
    window.stop();
  });
});
