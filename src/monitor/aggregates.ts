/** The counts behind `stats().blocks`, `stats().routes` and `topBlockers()`. */
import type { BlockerSummary, BlockEvent, LoopStats } from '../types.js';
import { routeOf, siteOf } from '../shared/frames.js';

const MAX_SITES = 1000;

export class Aggregates {
  #count = 0;
  #totalMs = 0;
  #longestMs = 0;
  readonly #routes = new Map<string, { blocks: number; totalMs: number; maxMs: number }>();
  readonly #sites = new Map<string, BlockerSummary>();

  add(event: BlockEvent): void {
    if (event.kind === 'sync-call') return;
    this.#count += 1;
    this.#totalMs += event.duration;
    this.#longestMs = Math.max(this.#longestMs, event.duration);
    const route = routeOf(event.context);
    if (route !== undefined) {
      const entry = this.#routes.get(route) ?? { blocks: 0, totalMs: 0, maxMs: 0 };
      entry.blocks += 1;
      entry.totalMs += event.duration;
      entry.maxMs = Math.max(entry.maxMs, event.duration);
      this.#routes.set(route, entry);
    }
    const site = siteOf(event);
    const key = `${site}\0${route ?? ''}`;
    let summary = this.#sites.get(key);
    if (summary === undefined) {
      if (this.#sites.size >= MAX_SITES) return;
      summary = { site, count: 0, totalMs: 0, maxMs: 0, stack: event.stack };
      if (route !== undefined) summary.route = route;
      this.#sites.set(key, summary);
    }
    summary.count += 1;
    summary.totalMs += event.duration;
    if (event.duration > summary.maxMs) {
      summary.maxMs = event.duration;
      summary.stack = event.stack;
    }
  }

  blocks(): LoopStats['blocks'] {
    return { count: this.#count, totalMs: this.#totalMs, longestMs: this.#longestMs };
  }

  routes(): LoopStats['routes'] {
    return Object.fromEntries([...this.#routes].map(([route, entry]) => [route, { ...entry }]));
  }

  top(limit: number): BlockerSummary[] {
    return [...this.#sites.values()]
      .sort((a, b) => b.totalMs - a.totalMs)
      .slice(0, limit)
      .map((summary) => ({ ...summary, stack: summary.stack.slice() }));
  }
}
