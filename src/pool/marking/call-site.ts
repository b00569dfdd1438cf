import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { callSitesOf } from '../../shared/call-sites.js';

export interface CallSiteInfo {
  /** file URL of the module that made the call, without query or hash; undefined for eval code. */
  moduleUrl: string | undefined;
  /** `file:line:column`, for messages. */
  place: string;
  /** The call sits in a module's top-level code, which runs once while the module loads. */
  topLevel: boolean;
}

/** Functions that evaluate a module's body: loaders that wrap Module._compile (tsx), test runners (vitest, jest). */
const MODULE_RUNNERS = /_compile|ModuleJob|evaluate|[rR]unInlinedModule|runModule|execModule|directRequest/;

/**
 * Where `below` was called from, read from V8's structured stack. Top-level code has no
 * function name and is evaluated straight by Node's module loader (ModuleJob.run for ESM,
 * Module._compile for CommonJS, which loaders such as tsx wrap); code after a top-level
 * `await` has no caller frame at all; test runners evaluate modules from functions of their
 * own. Anything else (a handler, a timer) is not top level.
 */
export function callSite(below: (...args: never[]) => unknown): CallSiteInfo {
  const frames = callSitesOf(below, 4);
  const caller = frames[0];
  if (caller === undefined) return { moduleUrl: undefined, place: '<unknown>', topLevel: false };
  const file = caller.getFileName() ?? undefined;
  const place = `${file ?? '<anonymous>'}:${caller.getLineNumber() ?? 0}:${caller.getColumnNumber() ?? 0}`;
  let next = frames[1];
  let resumed = false;
  if (next?.getFileName() === 'node:internal/process/task_queues') {
    // Resumed after an `await` in the module body (test runners wrap modules in async
    // functions): the async frame below says who evaluates it.
    resumed = true;
    next = frames[2];
  }
  const nextFile = next?.getFileName() ?? '';
  const nextFunction = next?.getFunctionName() ?? '';
  const topLevel =
    !caller.getFunctionName() &&
    ((next === undefined && !resumed) ||
      nextFile.startsWith('node:internal/modules/') ||
      MODULE_RUNNERS.test(nextFunction));
  return { moduleUrl: file === undefined || caller.isEval() ? undefined : toModuleUrl(file), place, topLevel };
}

/** A file path or file URL (import.meta.url, __filename) as a file URL without query or hash. */
export function toModuleUrl(file: string): string | undefined {
  if (file.startsWith('file:')) {
    const url = new URL(file);
    url.search = '';
    url.hash = '';
    return url.href;
  }
  if (file.startsWith('/') || /^[A-Za-z]:[\\/]/.test(file)) return pathToFileURL(file).href;
  return undefined;
}

let entryUrl: string | null | undefined;

/** The program's entry module (process.argv[1]), which a worker must never import: it would start the program again. */
export function entryModuleUrl(): string | undefined {
  if (entryUrl === undefined) {
    entryUrl = null;
    const entry = process.argv[1];
    if (entry !== undefined && entry !== '') {
      try {
        entryUrl = pathToFileURL(realpathSync(entry)).href;
      } catch {
        entryUrl = toModuleUrl(entry) ?? null;
      }
    }
  }
  return entryUrl ?? undefined;
}
