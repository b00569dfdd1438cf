/**
 * Structured clone keeps data, not classes: a `new User()` argument arrives in the thread as
 * a plain object without its methods. Outside production, say so once per class.
 */
import { types } from 'node:util';

const warned = new Set<string>();

const CLONEABLE_PROTOTYPES = new Set<unknown>([
  Object.prototype,
  null,
  Array.prototype,
  Map.prototype,
  Set.prototype,
  Date.prototype,
  RegExp.prototype,
  ArrayBuffer.prototype,
  SharedArrayBuffer.prototype,
  DataView.prototype,
  Error.prototype,
  Blob.prototype,
  Boolean.prototype,
  Number.prototype,
  String.prototype,
]);

export function warnClassInstances(args: unknown[]): void {
  for (let i = 0; i < args.length; i++) {
    const value = args[i];
    if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) continue;
    // A Proxy is never cloneable (the task fails with a DataCloneError naming it), and reading
    // its prototype would run a trap (or throw, when revoked).
    if (types.isProxy(value) || value instanceof Error) continue;
    const prototype = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
    if (CLONEABLE_PROTOTYPES.has(prototype)) continue;
    const name = prototype?.constructor?.name || 'a class';
    if (warned.has(name)) continue;
    warned.add(name);
    process.emitWarning(
      `args[${i}] is an instance of ${name}; it reaches the worker thread as a plain object, without its ` +
        `prototype or methods (structured clone). Pass plain data, or rebuild the instance in the thread.`,
      { type: 'LoopguardWarning', code: 'LOOPGUARD_CLASS_INSTANCE' },
    );
  }
}
