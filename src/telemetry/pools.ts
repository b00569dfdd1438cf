/**
 * The live thread pools, for the exporters: every ThreadPool adds itself to a process-wide
 * map when created and leaves it when closed or destroyed (pool/main/pool.ts), so both
 * builds' pools, the default one among them, are listed without the user handing them over.
 */
import { getGlobal } from '../shared/globals.js';
import type { PoolStats } from '../pool/main/metrics.js';
import { BoundedLabel, MAX_POOLS } from './labels.js';

export interface NamedPoolStats {
  pool: string;
  stats: PoolStats;
}

/**
 * Stable labels for live instances listed by name (pools, queues): the name, with `#2`, `#3`…
 * when two share one; beyond `max` instances, none (they are left out).
 */
export class InstanceLabels {
  readonly #labels = new WeakMap<object, string>();
  readonly #used = new Map<string, number>();
  readonly #bound: BoundedLabel;

  constructor(max: number) {
    this.#bound = new BoundedLabel(max);
  }

  labelOf(instance: object, name: string): string | undefined {
    let label = this.#labels.get(instance);
    if (label === undefined) {
      const count = (this.#used.get(name) ?? 0) + 1;
      this.#used.set(name, count);
      label = this.#bound.value(count === 1 ? name : `${name}#${count}`);
      this.#labels.set(instance, label);
    }
    return label.startsWith('(') ? undefined : label;
  }
}

/** Gives each pool a stable label: its name, with `#2`, `#3`… when two pools share one. */
export class PoolLabels {
  readonly #labels = new InstanceLabels(MAX_POOLS);

  /** Stats of every live pool, by label (pools beyond the bound are left out). */
  read(): NamedPoolStats[] {
    const live = getGlobal('livePools');
    if (live === undefined) return [];
    const result: NamedPoolStats[] = [];
    for (const [pool, name] of live) {
      const label = this.#labels.labelOf(pool, name);
      if (label === undefined) continue;
      try {
        result.push({ pool: label, stats: pool.stats() });
      } catch {
        // A pool that fails to report must not fail the scrape of everything else.
      }
    }
    return result;
  }
}
