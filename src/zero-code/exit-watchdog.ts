/**
 * The exit watchdog: after SIGINT/SIGTERM, a process still alive `exitTimeout` ms later is
 * told what keeps it alive.
 *
 * Listening for a signal changes what it does: with any listener, Node no longer exits on
 * it. So our listener keeps the default semantics by hand:
 *  - when the app has a listener of its own for that signal (a graceful shutdown), the app
 *    decides; we only arm an unref'd timer that explains the handles if the process outlives
 *    `exitTimeout` (the timer never keeps it alive, and it fires at most once per signal);
 *  - when ours is the only listener, the app expected Node's default (die by the signal):
 *    we run `beforeDefault` (the summary: 'exit' does not fire on death by signal), remove
 *    our listeners, and raise the signal again, so the process dies by it as it would have
 *    without loopguard (exit status 128 + signal number, as the parent sees it).
 * The app's listeners are counted when the signal arrives, so ones added after us count.
 */
import { explainHandles } from './explain.js';

export const WATCHED_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
type WatchedSignal = (typeof WATCHED_SIGNALS)[number];

export interface ExitWatchdogOptions {
  /** ms to wait after the signal; 0 arms nothing but still keeps the default behaviour. */
  exitTimeout: number;
  /** Runs right before we re-raise a signal nobody else handles. */
  beforeDefault?: (signal: WatchedSignal) => void;
  /** What to print when the process outlives the timeout (tests replace it). */
  explain?: (signal: WatchedSignal, waitedMs: number) => void;
}

export interface ExitWatchdog {
  /** Remove the listeners and cancel a pending timer. */
  disarm(): void;
}

function defaultExplain(signal: WatchedSignal, waitedMs: number): void {
  process.stderr.write(`loopguard: the process is still running ${waitedMs} ms after ${signal}\n`);
  explainHandles();
}

export function armExitWatchdog(options: ExitWatchdogOptions): ExitWatchdog {
  const explain = options.explain ?? defaultExplain;
  let timer: NodeJS.Timeout | undefined;
  const listeners = new Map<WatchedSignal, () => void>();

  const disarm = (): void => {
    for (const [signal, listener] of listeners) process.removeListener(signal, listener);
    listeners.clear();
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };

  for (const signal of WATCHED_SIGNALS) {
    const listener = (): void => {
      if (process.listenerCount(signal) <= 1) {
        options.beforeDefault?.(signal);
        disarm();
        // With no listener left Node restores the default disposition, so this kills us.
        process.kill(process.pid, signal);
        return;
      }
      if (options.exitTimeout > 0 && timer === undefined) {
        timer = setTimeout(() => explain(signal, options.exitTimeout), options.exitTimeout);
        timer.unref();
      }
    };
    listeners.set(signal, listener);
    process.on(signal, listener);
  }
  return { disarm };
}
