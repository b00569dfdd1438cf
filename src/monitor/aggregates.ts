/**
 * The counts behind `stats().blocks`, `stats().routes` and `topBlockers()`.
 *
 * Routes fall back to the raw path when no adapter knows the pattern, so a client decides how
 * many distinct keys there are (`GET /users/1`, `/users/2`, …). Both maps therefore keep at most
 * MAX_KEYS keys; blocks under any later key are counted in one `(other)` entry, so totals stay
 * right and the memory stays bounded.
 */
import type { BlockerSummary, BlockEvent, LoopStats } from '../types.js';
import { describeStack, labelOf, routeOf, siteKey } from '../shared/frames.js';

/** Keys kept per map, besides `(other)`. */
const MAX_KEYS = 1000;
/** Where blocks beyond MAX_KEYS routes or sites are counted. */
export const OTHER = '(other)';

interface RouteEntry {
  blocks: number;
  totalMs: number;
  maxMs: number;
}

export class Aggregates {
  #count = 0;
  #totalMs = 0;
  #longestMs = 0;
  readonly #routes = new Map<string, RouteEntry>();
  readonly #sites = new Map<string, BlockerSummary>();
  readonly #startup = { ms: 0, blocks: 0, modules: new Map<string, number>() };
  readonly #host = { ms: 0, blocks: 0 };
  readonly #own = { ms: 0, blocks: 0 };

  add(event: BlockEvent): void {
    if (event.kind === 'sync-call') return;
    this.#count += 1;
    this.#totalMs += event.duration;
    this.#longestMs = Math.max(this.#longestMs, event.duration);
    const route = routeOf(event.context);
    if (route !== undefined) {
      let entry = this.#routes.get(route);
      if (entry === undefined) {
        const key = this.#routes.size < MAX_KEYS ? route : OTHER;
        entry = this.#routes.get(key) ?? { blocks: 0, totalMs: 0, maxMs: 0 };
        this.#routes.set(key, entry);
      }
      entry.blocks += 1;
      entry.totalMs += event.duration;
      entry.maxMs = Math.max(entry.maxMs, event.duration);
    }
    if (event.cause === 'host') {
      // The process was not running (stopped, a paused VM, starved by the host): no code of the
      // app's is to blame, so it is no top blocker; stats().host counts it apart.
      this.#host.ms += event.duration;
      this.#host.blocks += 1;
      return;
    }
    const info = describeStack(event.stack, event.call);
    if (info.own === true) {
      // loopguard's own work (reading source maps, say): the loop was blocked, but not by the app.
      this.#own.ms += event.duration;
      this.#own.blocks += 1;
      return;
    }
    if (event.phase === 'startup') {
      // Start-up work is summarised apart (stats().startup), never a top blocker.
      this.#startup.ms += event.duration;
      this.#startup.blocks += 1;
      const module = info.module ?? info.site;
      const modules = this.#startup.modules;
      if (modules.has(module) || modules.size < MAX_KEYS) modules.set(module, (modules.get(module) ?? 0) + event.duration);
      return;
    }
    const { site, library } = info;
    const label = labelOf(site, library, info.entry);
    // One row per function and file (not line) and route: one hot loop is one site, shown at
    // the line of its latest block.
    const key = `${siteKey(site, event.stack.length > 0)}\0${library ?? ''}\0${route ?? ''}`;
    let summary = this.#sites.get(key);
    if (summary === undefined) {
      if (this.#sites.size < MAX_KEYS) {
        summary = { site, label, count: 0, totalMs: 0, maxMs: 0, stack: event.stack };
        if (library !== undefined) summary.library = library;
        if (route !== undefined) summary.route = route;
        this.#sites.set(key, summary);
      } else {
        // No route and an empty stack: the (other) entry stands for many sites and routes.
        summary = this.#sites.get(OTHER) ?? { site: OTHER, label: OTHER, count: 0, totalMs: 0, maxMs: 0, stack: [] };
        this.#sites.set(OTHER, summary);
        summary.count += 1;
        summary.totalMs += event.duration;
        summary.maxMs = Math.max(summary.maxMs, event.duration);
        return;
      }
    }
    summary.count += 1;
    summary.totalMs += event.duration;
    summary.site = site;
    summary.label = label;
    if (event.duration > summary.maxMs) {
      summary.maxMs = event.duration;
      summary.stack = event.stack;
    }
  }

  startup(): LoopStats['startup'] {
    const modules = [...this.#startup.modules]
      .map(([module, ms]) => ({ module, ms }))
      .sort((a, b) => b.ms - a.ms);
    return { ms: this.#startup.ms, blocks: this.#startup.blocks, modules };
  }

  host(): LoopStats['host'] {
    return { ms: this.#host.ms, blocks: this.#host.blocks };
  }

  own(): NonNullable<LoopStats['own']> {
    return { ms: this.#own.ms, blocks: this.#own.blocks };
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
