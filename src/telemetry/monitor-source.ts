/** The monitor the exporters listen to: the one given, else the running one, else a new one with defaults. */
import { InvalidOptionTypeError } from '../errors.js';
import { startMonitor } from '../monitor/monitor.js';
import { describeValue } from '../shared/validate.js';
import type { BlockEvent, LibuvStats, Monitor } from '../types.js';

export function checkMonitor(value: unknown): Monitor {
  if (value === undefined) return startMonitor();
  const candidate = value as Partial<Monitor> | null;
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.on !== 'function' || typeof candidate.off !== 'function') {
    throw new InvalidOptionTypeError(`monitor must be a Monitor from startMonitor(), got ${describeValue(value)}`);
  }
  return value as Monitor;
}

/** Listen to the monitor's blocks; returns the function that stops listening. */
export function onBlocks(monitor: Monitor, listener: (event: BlockEvent) => void): () => void {
  monitor.on('block', listener);
  return () => {
    monitor.off('block', listener);
  };
}

/** A monitor that offers its libuv probe's figures alone (monitor.ts InternalMonitor.libuvStats). */
type LibuvSource = { libuvStats(): LibuvStats | undefined };

/**
 * The monitor's stats().libuv, or undefined (libuv: false). Read through libuvStats() where the
 * monitor has it: the whole of stats() cost a scrape ~0.1–0.3 ms (the since-start delay
 * histogram's mean and stddev walk all its buckets), more than the rest of loopguard's part of
 * a Prometheus scrape. checkMonitor() asks only for on/off, so a stand-in without stats() is
 * read as having no probe rather than breaking a scrape.
 */
export function readLibuv(monitor: Monitor): LibuvStats | undefined {
  const source = monitor as Partial<LibuvSource>;
  if (typeof source.libuvStats === 'function') return source.libuvStats();
  return typeof monitor.stats === 'function' ? monitor.stats().libuv : undefined;
}
