/** The counts behind `stats().blocks`, `stats().routes` and `topBlockers()`, and the ignore rules. */
import type { BlockerSummary, BlockEvent, IgnoreRules, LoopStats } from '../types.js';
import { routeOf, siteOf } from './site.js';

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

/**
 * An allow-list, as BlockHound has: a block is left out when any frame of its stack is one
 * of `functions` or lies in one of `files`, or when its route matches `routes`. A string
 * matches a function name exactly (or a method `Class.name`), a file when the path contains it,
 * a route when it equals the route pattern, the path, or `'METHOD /route'`.
 */
export function isIgnored(event: BlockEvent, ignore: ((event: BlockEvent) => boolean) | IgnoreRules | undefined): boolean {
  if (ignore === undefined) return false;
  if (typeof ignore === 'function') {
    try {
      return ignore(event) === true;
    } catch {
      return false;
    }
  }
  const { functions, files, routes } = ignore;
  for (const frame of event.stack) {
    if (functions !== undefined && functions.some((p) => (typeof p === 'string' ? frame.function === p || frame.function.endsWith(`.${p}`) : p.test(frame.function)))) {
      return true;
    }
    if (files !== undefined && files.some((p) => (typeof p === 'string' ? frame.file.endsWith(p) || frame.file.includes(p) : p.test(frame.file)))) {
      return true;
    }
  }
  const context = event.context;
  if (routes !== undefined && context !== undefined) {
    const candidates = [context.route, context.path, routeOf(context)].filter((v): v is string => typeof v === 'string');
    return candidates.some((value) => routes.some((p) => (typeof p === 'string' ? value === p : p.test(value))));
  }
  return false;
}
