/**
 * Process-wide state lives on `globalThis` under `Symbol.for` keys, never in module scope:
 * the ESM and the CJS build (and each CJS entry, which tsup bundles separately) may all be
 * loaded into one process, and they must share one monitor, one context store and one
 * registry of marked functions.
 */
export function processSingleton<T>(key: string, create: () => T): T {
  const symbol = Symbol.for(`loopguard.${key}`);
  const holder = globalThis as unknown as Record<symbol, T | undefined>;
  let value = holder[symbol];
  if (value === undefined) {
    value = create();
    holder[symbol] = value;
  }
  return value;
}

/** Read a process singleton without creating it. */
export function peekSingleton<T>(key: string): T | undefined {
  return (globalThis as unknown as Record<symbol, T | undefined>)[Symbol.for(`loopguard.${key}`)];
}

/** Set or clear (undefined) a process singleton. */
export function setSingleton<T>(key: string, value: T | undefined): void {
  (globalThis as unknown as Record<symbol, T | undefined>)[Symbol.for(`loopguard.${key}`)] = value;
}
