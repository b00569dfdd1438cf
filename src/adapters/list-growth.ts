/**
 * Express and Koa have no hook for routes being added, so their adapters walk the app's router
 * stack (Express) or middleware (Koa) from their middleware: on the first request, and again
 * whenever that list has grown. This says when, at about no cost per request.
 */
export class ListGrowth {
  readonly #walked = new WeakMap<object, number>();
  // The list seen last and its length then: one app per process is the common case, and two
  // comparisons are cheaper than the WeakMap read every request would otherwise make.
  #last: unknown;
  #lastLength = -1;

  /** True, once per change, when `list` has a length it was not walked at; it counts as walked then. */
  changed(list: readonly unknown[]): boolean {
    if (list === this.#last && list.length === this.#lastLength) return false;
    this.#last = list;
    this.#lastLength = list.length;
    if (this.#walked.get(list) === list.length) return false;
    this.#walked.set(list, list.length);
    return true;
  }
}
