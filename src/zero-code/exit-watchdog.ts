/**
 * The exit watchdog: after SIGINT/SIGTERM, a process still alive `exitTimeout` ms later is
 * told what keeps it alive.
 *
 * It adds no signal listener, on purpose. A listener changes how the app dies: with one,
 * Node no longer exits on the signal, so a stuck app (whose loop never runs the listener)
 * ignores SIGTERM until SIGKILL; and signal-exit 3 and 4 (lockfile, write-file-atomic, execa,
 * ora...) re-raise a signal only when their listeners are the only ones
 * (`process.listeners(sig).length === count`), so with one more the app ignores Ctrl-C.
 *
 * Instead it watches `process.emit`: Node delivers a signal by calling `process.emit(sig)`, and
 * only when the app has a listener of its own. That is exactly the case worth explaining (the
 * app chose to shut down gracefully and may never finish); without one the process dies by the
 * signal at once, as it would without loopguard. Node binds `process.emit` when the first
 * listener for a signal is added, so this must be installed before the app's code runs (it is:
 * register is a preload), and the wrapper stays a pass-through after `disarm()` for the
 * listeners that were bound to it.
 */
import { explainHandles } from './explain.js';

export const WATCHED_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
type WatchedSignal = (typeof WATCHED_SIGNALS)[number];

export interface ExitWatchdogOptions {
  /** ms to wait after the signal; 0 = off. */
  exitTimeout: number;
  /** What to print when the process outlives the timeout (tests replace it). */
  explain?: (signal: WatchedSignal, waitedMs: number) => void;
}

export interface ExitWatchdog {
  /** Stop watching and cancel a pending timer. */
  disarm(): void;
}

function defaultExplain(signal: WatchedSignal, waitedMs: number): void {
  process.stderr.write(`loopguard: the process is still running ${waitedMs} ms after ${signal}\n`);
  explainHandles();
}

function isWatched(event: unknown): event is WatchedSignal {
  return (WATCHED_SIGNALS as readonly unknown[]).includes(event);
}

type Emit = (this: NodeJS.Process, event: string | symbol, ...args: unknown[]) => boolean;

export function armExitWatchdog(options: ExitWatchdogOptions): ExitWatchdog {
  const explain = options.explain ?? defaultExplain;
  const original = process.emit as unknown as Emit;
  let armed = options.exitTimeout > 0;
  let timer: NodeJS.Timeout | undefined;

  const watching: Emit = function emit(event, ...args) {
    if (armed && timer === undefined && isWatched(event)) {
      // Unref'd and once: it never keeps the process alive, and a second Ctrl-C says nothing new.
      timer = setTimeout(() => explain(event, options.exitTimeout), options.exitTimeout);
      timer.unref();
    }
    return original.call(this, event, ...args);
  };
  if (armed) (process as unknown as { emit: Emit }).emit = watching;

  return {
    disarm() {
      armed = false;
      if (timer !== undefined) clearTimeout(timer);
      // Put the original back only if nobody wrapped it after us (signal-exit does).
      if ((process.emit as unknown) === watching) (process as unknown as { emit: Emit }).emit = original;
    },
  };
}
