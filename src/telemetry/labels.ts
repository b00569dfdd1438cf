/**
 * Label values for the exporters, each with a bounded number of distinct values: a metric
 * series per raw path (or per anything a client controls) would grow without end and take
 * the metrics backend down. Routes are the framework's patterns, never the request's path.
 */
import type { BlockEvent } from '../types.js';

/** Distinct routes one exporter reports before the rest count as {@link OTHER}. */
export const MAX_ROUTES = 100;
/** Distinct blocking-API names (`call`) one exporter reports. */
export const MAX_CALLS = 100;
/** Distinct blocking sites (OTel's code.* attributes) one exporter reports. */
export const MAX_SITES = 200;
/** Distinct pools one exporter reports. */
export const MAX_POOLS = 20;
/** Distinct job queues one exporter reports. */
export const MAX_QUEUES = 20;
/** Distinct functions (job names) one exporter reports across its queues. */
export const MAX_QUEUE_FUNCTIONS = 100;
/** Longer route patterns are cut: a pattern is short, a long value is likely not one. */
const MAX_ROUTE_LENGTH = 200;

/** Values beyond a label's bound. */
export const OTHER = '(other)';
/** A block inside a request whose route no adapter named (node:http, a 404): its path is never a label. */
const UNMATCHED = '(unmatched)';
/** A block outside any request (start-up, a timer, a job). */
export const NONE = '(none)';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE', 'QUERY']);
const CAUSES = new Set(['js', 'native', 'gc', 'wait', 'host', 'unknown']);

/** A label whose first `max` distinct values are kept and the rest reported as {@link OTHER}. */
export class BoundedLabel {
  readonly #seen = new Set<string>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  value(raw: string): string {
    if (this.#seen.has(raw)) return raw;
    if (this.#seen.size >= this.#max) return OTHER;
    this.#seen.add(raw);
    return raw;
  }
}

export interface BlockLabels {
  route: string;
  method: string;
  cause: string;
}

/** The route, method and cause of a block, each from a bounded set. */
export function blockLabels(event: BlockEvent, routes: BoundedLabel): BlockLabels {
  const context = event.context;
  const route = typeof context?.route === 'string' && context.route !== '' ? context.route : undefined;
  const inRequest = route !== undefined || typeof context?.path === 'string' || typeof context?.method === 'string';
  const method = typeof context?.method === 'string' ? context.method.toUpperCase() : '';
  return {
    route: route !== undefined ? routes.value(route.slice(0, MAX_ROUTE_LENGTH)) : inRequest ? UNMATCHED : NONE,
    method: method === '' ? NONE : METHODS.has(method) ? method : OTHER,
    cause: CAUSES.has(event.cause) ? event.cause : 'unknown',
  };
}
