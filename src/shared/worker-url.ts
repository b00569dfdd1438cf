/**
 * Worker entries are build outputs of their own, next to the module that starts them
 * (dist/watchdog-worker.js, dist/pool-worker.js). The ESM build resolves them from
 * import.meta.url; in the CJS build tsup's shim gives the same value from __filename.
 * Both builds load the ESM worker file, which needs nothing from either build's chunks.
 */
export function workerUrl(name: 'watchdog-worker' | 'pool-worker'): URL {
  return new URL(`./${name}.js`, import.meta.url);
}
