// The exit watchdog listens for no signal (a listener changes how the app dies): it watches
// process.emit, through which Node delivers a signal to the app's own listeners.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { armExitWatchdog, WATCHED_SIGNALS } from '../../src/zero-code/exit-watchdog.js';

describe('armExitWatchdog', () => {
  afterEach(() => vi.useRealTimers());

  it('adds no signal listener', () => {
    const before = WATCHED_SIGNALS.map((signal) => process.listenerCount(signal));
    const watchdog = armExitWatchdog({ exitTimeout: 1000, explain: () => undefined });
    expect(WATCHED_SIGNALS.map((signal) => process.listenerCount(signal))).toEqual(before);
    watchdog.disarm();
  });

  it('explains once, exitTimeout ms after a signal is delivered to the app\'s own listener', () => {
    vi.useFakeTimers();
    const explain = vi.fn();
    const emit = process.emit;
    const watchdog = armExitWatchdog({ exitTimeout: 1000, explain });
    expect(process.emit).not.toBe(emit);
    const appListener = vi.fn();
    process.on('SIGTERM', appListener);
    try {
      process.emit('SIGTERM', 'SIGTERM');
      process.emit('SIGTERM', 'SIGTERM');
      expect(appListener).toHaveBeenCalledTimes(2);
      vi.advanceTimersByTime(999);
      expect(explain).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(explain).toHaveBeenCalledTimes(1);
      expect(explain).toHaveBeenCalledWith('SIGTERM', 1000);
    } finally {
      process.off('SIGTERM', appListener);
      watchdog.disarm();
    }
    expect(process.emit).toBe(emit);
  });

  it('leaves process.emit alone after disarm() when someone wrapped it after us', () => {
    const watchdog = armExitWatchdog({ exitTimeout: 1000, explain: () => undefined });
    const ours = process.emit;
    const theirs = function (this: NodeJS.Process, ...args: Parameters<typeof process.emit>) {
      return ours.apply(this, args);
    } as typeof process.emit;
    process.emit = theirs;
    watchdog.disarm();
    expect(process.emit).toBe(theirs);
    process.emit = ours; // pass-through now: what a later unwrap would restore
  });

  it('with exitTimeout 0 changes nothing at all', () => {
    const emit = process.emit;
    armExitWatchdog({ exitTimeout: 0 }).disarm();
    expect(process.emit).toBe(emit);
  });
});
