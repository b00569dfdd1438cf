// A job queue as the exporters see one: listed in the process-wide registry loopguard/queue's
// queues add themselves to (Symbol.for('loopguard.v1.liveQueues')), with stats() per function.
type Counts = { completed: number; failed: number };
export interface StandInQueue {
  /** Set what stats() reports for one function. */
  set(fn: string, counts: Counts): void;
  /** Leave the registry, as close() does. */
  close(): void;
}

const KEY = Symbol.for('loopguard.v1.liveQueues');

export function standInQueue(name: string): StandInQueue {
  const holder = globalThis as unknown as Record<symbol, Map<object, string> | undefined>;
  const live = (holder[KEY] ??= new Map<object, string>());
  const stats: Record<string, Counts & { queued: number; active: number }> = {};
  const queue = { stats: () => structuredClone(stats) };
  live.set(queue, name);
  return {
    set(fn, counts) {
      stats[fn] = { queued: 0, active: 0, ...counts };
    },
    close() {
      live.delete(queue);
    },
  };
}
