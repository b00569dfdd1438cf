/**
 * The live job queues (loopguard/queue), for the exporters: every Queue adds itself to a
 * process-wide map when created and leaves it when closed (queue/main/queue.ts), as pools do,
 * so both exporters list them without the user handing them over. A queue's stats() is what
 * this process saw of its own jobs, read without asking the server.
 */
import { getGlobal } from '../shared/globals.js';
import { BoundedLabel, MAX_QUEUE_FUNCTIONS, MAX_QUEUES } from './labels.js';
import { InstanceLabels } from './pools.js';

export interface QueueJobTotals {
  queue: string;
  /** The marked function's key (its job name), bounded: beyond the bound, `(other)`. */
  fn: string;
  completed: number;
  failed: number;
}

export class QueueLabels {
  readonly #queues = new InstanceLabels(MAX_QUEUES);
  readonly #functions = new BoundedLabel(MAX_QUEUE_FUNCTIONS);

  /** Jobs finished, per queue and function since the queue was made (functions past the bound summed as `(other)`). */
  read(): QueueJobTotals[] {
    const live = getGlobal('liveQueues');
    if (live === undefined) return [];
    const totals = new Map<string, QueueJobTotals>();
    for (const [queue, name] of live) {
      const label = this.#queues.labelOf(queue, name);
      if (label === undefined) continue;
      let stats;
      try {
        stats = queue.stats();
      } catch {
        continue; // a queue that fails to report must not fail the scrape of everything else
      }
      for (const [fn, counts] of Object.entries(stats)) {
        const fnLabel = this.#functions.value(fn);
        const key = `${label}\0${fnLabel}`;
        const entry = totals.get(key) ?? { queue: label, fn: fnLabel, completed: 0, failed: 0 };
        entry.completed += counts.completed;
        entry.failed += counts.failed;
        totals.set(key, entry);
      }
    }
    return [...totals.values()];
  }
}
