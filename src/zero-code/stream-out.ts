/**
 * The app's main-thread half of the stream to the `loopguard` CLI (shared/cli-stream.ts):
 * a start record, every block event as it is emitted, the loop's figures once a second, and a
 * final record in process 'exit'. The CLI then prints the summary and writes the report, so
 * they survive endings in which this process can print nothing (SIGKILL, out of memory, a
 * signal it does not handle). The watchdog thread streams what happens while this thread is
 * stuck; it learns its descriptor from Slot.STREAM_FD.
 */
import { performance } from 'node:perf_hooks';
// From node:timers, not the globals: a test's fake timers must not stop the stream.
import { clearInterval, setInterval } from 'node:timers';
import { getGlobal } from '../shared/globals.js';
import { isPipe, parseStreamFds, STREAM_ENV, writeRecord, type AppRecord } from '../shared/cli-stream.js';
import type { BlockEvent, Monitor } from '../types.js';
import { Slot } from '../watchdog/protocol.js';
import { scriptName } from '../report/collect.js';

const STATS_INTERVAL = 1000;
/** As many frames as a report keeps. */
const MAX_FRAMES = 30;

export interface CliStreamOut {
  /** The final record; false when the CLI could not be reached (print the summary here instead). */
  finish(): boolean;
}

/**
 * Take the descriptors named by LOOPGUARD_STREAM_FDS, and remove the variable from the
 * environment whatever it held, so processes the app starts do not inherit it. Undefined
 * without a CLI, or when the descriptors are not pipes (then nothing is ever written to them).
 */
export function takeStreamFds(env: NodeJS.ProcessEnv): { app: number; watchdog: number } | undefined {
  const value = env[STREAM_ENV];
  if (value === undefined) return undefined;
  delete env[STREAM_ENV];
  const fds = parseStreamFds(value);
  if (fds === undefined || !isPipe(fds.app) || !isPipe(fds.watchdog)) return undefined;
  return fds;
}

export function streamToCli(monitor: Monitor, fds: { app: number; watchdog: number }, hangTimeout: number): CliStreamOut {
  let connected = true;
  const write = (record: AppRecord): void => {
    if (connected && !writeRecord(fds.app, record)) connected = false;
  };
  write({
    type: 'start',
    pid: process.pid,
    command: scriptName(),
    node: process.version,
    threshold: monitor.threshold,
    hangTimeout,
    since: monitor.stats().since,
    stacksAvailable: monitor.stacksAvailable,
  });
  // The watchdog thread writes to its own descriptor (see shared/cli-stream.ts for why two).
  const heartbeat = getGlobal('heartbeat');
  if (heartbeat !== undefined) Atomics.store(heartbeat, Slot.STREAM_FD, fds.watchdog);

  const onBlock = (event: BlockEvent): void => {
    write({ type: 'block', event: { ...event, stack: event.stack.slice(0, MAX_FRAMES) } });
  };
  monitor.on('block', onBlock);

  let lastPoint = 0;
  const stats = (final: boolean): void => {
    const { delay, utilization, libuv } = monitor.stats();
    const timeline = monitor.timeline().filter((point) => point.t > lastPoint);
    lastPoint = timeline.at(-1)?.t ?? lastPoint;
    write({
      type: 'stats',
      at: Math.round(performance.timeOrigin + performance.now()),
      delay,
      utilization,
      ...(libuv === undefined ? {} : { libuv }),
      timeline,
      stacksAvailable: monitor.stacksAvailable,
      final,
    });
  };
  // From the monitor's heartbeat when it offers it (one wake-up of an idle loop less a second),
  // else from a timer of its own.
  const internal = monitor as Partial<{ everySecond(listener: () => void): () => void }>;
  let cancel: () => void;
  if (typeof internal.everySecond === 'function') {
    cancel = internal.everySecond(() => stats(false));
  } else {
    const timer = setInterval(() => stats(false), STATS_INTERVAL);
    timer.unref();
    cancel = () => clearInterval(timer);
  }

  return {
    finish() {
      cancel();
      monitor.off('block', onBlock);
      if (connected) stats(true);
      if (heartbeat !== undefined) Atomics.store(heartbeat, Slot.STREAM_FD, 0);
      return connected;
    },
  };
}
