import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FunctionNotPortableError, InvalidOptionTypeError } from '../../errors.js';
import { markedFunctions } from '../../pool/marking/registry.js';

type AnyFunction = (...args: never[]) => unknown;

/** A job function the worker can run: its key, the function, and the module that marked it. */
export interface JobFunction {
  key: string;
  fn: AnyFunction;
  module: string;
}

/** `./dist/tasks.js` (from `cwd`), `/abs/tasks.js` or `file:///abs/tasks.js` → a file URL. */
export function moduleUrl(specifier: string, cwd: string): string {
  if (specifier.startsWith('file:')) return new URL(specifier).href;
  if (/^[a-z][a-z0-9+.-]+:/i.test(specifier) && !/^[a-z]:[\\/]/i.test(specifier)) {
    throw new InvalidOptionTypeError(`modules: ${JSON.stringify(specifier)} must be a file path or a file: URL`);
  }
  return pathToFileURL(isAbsolute(specifier) ? specifier : resolve(cwd, specifier)).href;
}

/**
 * Import the job modules and list every function marked with threaded() in this process by
 * then (a module's helpers in other modules count too), by key. A job names its function by
 * key alone, so one key marked in two modules is refused here, at start, not guessed per job.
 */
export async function loadJobFunctions(specifiers: readonly string[], cwd: string): Promise<Map<string, JobFunction>> {
  for (const specifier of specifiers) {
    const url = moduleUrl(specifier, cwd);
    const path = fileURLToPath(url);
    if (!existsSync(path)) {
      throw new InvalidOptionTypeError(`modules: cannot find ${JSON.stringify(specifier)} (looked for ${path})`);
    }
    // Import errors propagate as they are: the module's own error and stack say the most.
    await import(url);
  }
  const table = new Map<string, JobFunction>();
  for (const [registryKey, fn] of markedFunctions) {
    // `${moduleUrl}#${key}`: a file URL has no raw `#`, so the first one ends the module.
    const cut = registryKey.indexOf('#');
    const module = registryKey.slice(0, cut);
    const key = registryKey.slice(cut + 1);
    // An ordinal key (`#0`, an unnamed function) says nothing across modules: no job can name it.
    if (key.startsWith('#')) continue;
    const existing = table.get(key);
    if (existing !== undefined && existing.fn !== fn) {
      throw new FunctionNotPortableError(
        `two modules mark a function as "${key}": ${existing.module} and ${module}; a job names its ` +
          `function by key alone, so give one of them another with threaded(fn, { name })`,
      );
    }
    table.set(key, { key, fn, module });
  }
  return table;
}
