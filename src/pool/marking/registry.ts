import { ensureGlobal, getGlobal, type SharedDefinitions } from '../../shared/globals.js';
import { FunctionNotPortableError } from '../../errors.js';
import { SOURCE_CACHE_SIZE, type FunctionDef } from '../protocol.js';

type AnyFunction = (...args: never[]) => unknown;

const definitions: SharedDefinitions = ensureGlobal('poolDefinitions', () => ({
  nextIndex: 0,
  byFunction: new WeakMap(),
  bySource: new Map(),
  ordinals: new Map(),
}));

/** Whether this code runs in a pool thread (the thread's entry sets the flag first thing). */
export function inPoolWorker(): boolean {
  return getGlobal('inPoolWorker') === true;
}

/** `moduleUrl#key` → marked function; read by the pool thread after importing the module. */
export const markedFunctions = ensureGlobal('threadedRegistry', () => new Map<string, AnyFunction>());

export function nextOrdinal(moduleUrl: string): number {
  const ordinal = definitions.ordinals.get(moduleUrl) ?? 0;
  definitions.ordinals.set(moduleUrl, ordinal + 1);
  return ordinal;
}

export function defineMarked(fn: AnyFunction, moduleUrl: string, key: string): FunctionDef {
  const def: FunctionDef = { index: definitions.nextIndex++, module: moduleUrl, key, name: fn.name };
  definitions.byFunction.set(fn, def);
  return def;
}

/**
 * The definition of `fn`: its marking, else its source (a self-contained function).
 * Native and bound functions have no source a thread could compile: refused here.
 */
export function definitionOf(fn: AnyFunction): FunctionDef {
  const known = definitions.byFunction.get(fn);
  if (known !== undefined) return known;
  const source = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    const what = fn.name.startsWith('bound ') ? 'a bound function' : 'a native function';
    throw new FunctionNotPortableError(
      `${fn.name || 'the function'} is ${what}, whose source cannot be sent to a worker thread; ` +
        `call it from a function of your own marked with threaded() in a module of its own`,
    );
  }
  if (/^class\b/.test(source)) {
    throw new FunctionNotPortableError(`${fn.name || 'the function'} is a class, not a function a worker thread can call`);
  }
  // Least recently used first, at most SOURCE_CACHE_SIZE: sources may be made at run time
  // (new Function per request), and a forgotten one only costs a new index if it comes back.
  let def = definitions.bySource.get(source);
  if (def === undefined) {
    def = { index: definitions.nextIndex++, source, name: fn.name };
    if (definitions.bySource.size >= SOURCE_CACHE_SIZE) {
      definitions.bySource.delete(definitions.bySource.keys().next().value as string);
    }
  } else {
    definitions.bySource.delete(source);
  }
  definitions.bySource.set(source, def);
  definitions.byFunction.set(fn, def);
  return def;
}

/** The threaded() wrapper runs as the function it wraps, also through pool.run(wrapper). */
export function aliasDefinition(alias: AnyFunction, def: FunctionDef): void {
  definitions.byFunction.set(alias, def);
}

/**
 * The marking of `fn` (a threaded() wrapper or the function it marks), or undefined for a
 * function never marked: unlike definitionOf(), never falls back to sending its source.
 */
export function markedDefinition(fn: AnyFunction): FunctionDef | undefined {
  const def = definitions.byFunction.get(fn);
  return def?.module === undefined ? undefined : def;
}
