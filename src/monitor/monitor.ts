import type { Monitor, MonitorOptions } from '../types.js';

/** Start (or return the running) event-loop monitor. */
export function startMonitor(_options?: MonitorOptions): Monitor {
  throw new Error('not implemented yet');
}
