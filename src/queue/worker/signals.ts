import { constants } from 'node:os';
import { errorSummary, type WorkerLog } from './log.js';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * For a process that is only a worker (the CLI, or startWorker({ handleSignals: true })): the
 * first SIGTERM or SIGINT drains (`stop`) and exits 0, or 1 when stopping failed; a second one
 * ends the process at once, by that signal, as if no listener were installed. Returns the
 * function that removes the listeners.
 */
export function drainOnSignals(stop: (signal: NodeJS.Signals) => Promise<void>, log: WorkerLog, queue: string): () => void {
  let draining = false;
  const remove = (): void => {
    for (const signal of SIGNALS) process.removeListener(signal, onSignal);
  };
  function onSignal(signal: NodeJS.Signals): void {
    if (draining) {
      remove();
      // Dying by the signal tells a supervisor what happened; when the program has listeners
      // of its own the signal would not kill it, so exit with the shell's code for it instead.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      else process.exit(128 + (constants.signals[signal] ?? 0));
      return;
    }
    draining = true;
    stop(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        log({ msg: 'worker stopped', queue, error: errorSummary(error) }, 'warn');
        process.exit(1);
      },
    );
  }
  for (const signal of SIGNALS) process.on(signal, onSignal);
  return remove;
}
