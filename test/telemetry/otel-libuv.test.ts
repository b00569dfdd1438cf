/**
 * loopguard.libuv.delay.* on a recording stand-in MeterProvider, in this process: only
 * @opentelemetry/api is needed, so this runs on every supported Node (the SDK tests in
 * otel.test.ts need Node >= 22.15). The monitor is a stand-in with fixed stats().libuv.
 */
import { describe, expect, it, vi } from 'vitest';
import { otelMetrics } from 'loopguard/otel';
import { startMonitor, type LibuvStats, type Monitor } from 'loopguard';

interface Instrument {
  name: string;
  unit?: string;
}
type BatchCallback = (result: { observe(instrument: Instrument, value: number): void }) => void;

function recordingProvider() {
  const callbacks = new Set<BatchCallback>();
  const instruments: Instrument[] = [];
  const instrument = (name: string, options?: { unit?: string }): Instrument => {
    const created = { name, ...(options?.unit === undefined ? {} : { unit: options.unit }) };
    instruments.push(created);
    return created;
  };
  const meter = {
    createHistogram: instrument,
    createObservableGauge: instrument,
    createObservableCounter: instrument,
    createObservableUpDownCounter: instrument,
    addBatchObservableCallback: (callback: BatchCallback) => callbacks.add(callback),
    removeBatchObservableCallback: (callback: BatchCallback) => callbacks.delete(callback),
  };
  return {
    provider: { getMeter: () => meter },
    instruments,
    collect(): Map<string, number> {
      const observed = new Map<string, number>();
      for (const callback of callbacks) callback({ observe: (target, value) => observed.set(target.name, value) });
      return observed;
    },
  };
}

function monitorWith(libuv: LibuvStats | undefined): Monitor {
  const monitor = {
    on: () => monitor,
    off: () => monitor,
    stats: () => ({ ...(libuv === undefined ? {} : { libuv }) }),
  };
  return monitor as unknown as Monitor;
}

describe('otelMetrics(): loopguard.libuv.delay.*', () => {
  it('reports p50, p99 and max of stats().libuv in seconds', () => {
    const recording = recordingProvider();
    const handle = otelMetrics({
      meterProvider: recording.provider as never,
      runtimeMetrics: false,
      monitor: monitorWith({ delay: { p50: 2, p99: 150, max: 480 }, saturatedMs: 480 }),
    });
    for (const field of ['p50', 'p99', 'max']) {
      expect(recording.instruments.find((made) => made.name === `loopguard.libuv.delay.${field}`)?.unit, field).toBe('s');
    }
    const observed = recording.collect();
    expect(observed.get('loopguard.libuv.delay.p50')).toBeCloseTo(0.002, 6);
    expect(observed.get('loopguard.libuv.delay.p99')).toBeCloseTo(0.15, 6);
    expect(observed.get('loopguard.libuv.delay.max')).toBeCloseTo(0.48, 6);
    handle.unregister();
    expect(recording.collect().size).toBe(0);
  });

  it("reads a real monitor's probe through libuvStats(), not the whole of stats() (its since-start delay figures cost a scrape ~0.2 ms)", async () => {
    const monitor = startMonitor({ log: false, hangTimeout: 0 });
    try {
      const stats = vi.spyOn(monitor, 'stats');
      const recording = recordingProvider();
      const handle = otelMetrics({ meterProvider: recording.provider as never, runtimeMetrics: false, monitor });
      const observed = recording.collect();
      expect(observed.get('loopguard.libuv.delay.max')).toBeGreaterThanOrEqual(0);
      expect(stats).not.toHaveBeenCalled();
      handle.unregister();
    } finally {
      await monitor.stop();
    }
  });

  it('observes nothing when the monitor runs with libuv: false (a 0 would claim a free pool)', () => {
    const recording = recordingProvider();
    const handle = otelMetrics({ meterProvider: recording.provider as never, runtimeMetrics: false, monitor: monitorWith(undefined) });
    expect(recording.collect().size).toBe(0);
    handle.unregister();
  });
});
