// A pool thread's entry (dist/pool-worker.js). It imports nothing from the main-side
// modules: the marked functions' modules load whichever loopguard build they import, and
// the two sides meet through globalThis (the registry) and ./protocol.js.
import { parentPort, workerData, type TransferListItem } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  RESULT_FLUSH_COUNT,
  RESULT_FLUSH_MS,
  RESULT_RUN_US,
  RESULT_STATUS,
  RESULT_STRIDE,
  RESULT_VALUE,
  SLOT_STARTED,
  STATUS_NOT_PORTABLE,
  STATUS_OK,
  STATUS_THROWN,
  TASK_ARG_COUNT,
  TASK_ARGS,
  TASK_FUNCTION,
  type FunctionDef,
  type PoolWorkerData,
  type SerializedError,
  type TaskBatch,
} from '../protocol.js';
import { getGlobal, setGlobal } from '../../shared/globals.js';
import { freeVariable, notPortable, serializeError } from './errors.js';
import { loopTurnIfDue, nextMessage, noteLoopTurn, WAIT_AFTER_TASKS } from './idle-wait.js';

type Fn = (...args: unknown[]) => unknown;

// threaded() reads this flag and returns the plain function inside a pool thread, so a
// marked function calling another runs it inline instead of waiting for a second slot.
setGlobal('inPoolWorker', true);

const port = parentPort!;
const control = new Int32Array((workerData as PoolWorkerData).control);
/** Index → function, or the reason it is not portable (sent back for every task using it). */
const functions: Array<Fn | Promise<Fn | SerializedError> | SerializedError | undefined> = [];
const batches: TaskBatch[] = [];
let started = 0;
let running = false;
let results: unknown[] = [];
let transfers: TransferListItem[] = [];
let lastPost = performance.now();
/** The time at the end of the last task (read once per task, for its run time and the flush). */
let now = lastPost;
// Self-contained functions may still `require('node:crypto')`: give them one rooted at cwd.
const requireForSource = createRequire(`${process.cwd()}/`);

// A task calling process.exit ends the thread; results of the tasks before it go out first,
// so only the task that exited fails (and none is run twice).
const exit = process.exit.bind(process);
process.exit = ((code?: number) => {
  postResults();
  exit(code);
}) as typeof process.exit;

port.on('message', (batch: TaskBatch) => {
  noteLoopTurn();
  batches.push(batch);
  if (!running) void drain();
});

async function drain(): Promise<void> {
  running = true;
  let stretch = started; // tasks started before this stretch of work
  for (;;) {
    if (batches.length === 0) {
      postResults();
      if (started - stretch > WAIT_AFTER_TASKS) break;
      const next = nextMessage(port, control) as TaskBatch | undefined;
      stretch = started;
      if (next === undefined) break;
      batches.push(next);
      const turn = loopTurnIfDue();
      if (turn !== undefined) await turn;
    }
    const batch = batches.shift()!;
    // Forgotten before the new ones are defined: the main thread never forgets one this batch uses.
    if (batch.forget !== null) for (const index of batch.forget) functions[index] = undefined;
    if (batch.defs !== null) for (const def of batch.defs) functions[def.index] = define(def);
    const tasks = batch.tasks;
    const contexts = batch.contexts;
    let nextContext = 0;
    for (let i = 0, ordinal = 0; i < tasks.length; ordinal++) {
      const index = tasks[i + TASK_FUNCTION] as number;
      const argCount = tasks[i + TASK_ARG_COUNT] as number;
      const args = tasks.slice(i + TASK_ARGS, i + TASK_ARGS + argCount);
      i += TASK_ARGS + argCount;
      let context: object | undefined;
      if (contexts !== undefined && contexts[nextContext] === ordinal) {
        context = contexts[nextContext + 1] as object;
        nextContext += 2;
      }
      // Counted before the first import of the function's module: a module that kills the
      // thread while loading is this task's fault, not a reason to retry it forever.
      Atomics.store(control, SLOT_STARTED, ++started);
      let fn = functions[index];
      if (fn instanceof Promise) {
        postResults();
        fn = functions[index] = await fn;
      }
      if (typeof fn !== 'function') {
        results.push(STATUS_NOT_PORTABLE, fn, 0);
        continue;
      }
      // A thread runs one task at a time, awaits included: a global is the running task's own.
      if (context !== undefined) setGlobal('taskContext', context);
      const begin = performance.now();
      try {
        let value = fn(...args);
        if (value !== null && typeof (value as PromiseLike<unknown>)?.then === 'function') {
          postResults();
          value = await value;
        }
        results.push(STATUS_OK, value, elapsedMicros(begin));
        addTransfers(value);
      } catch (error) {
        results.push(STATUS_THROWN, serializeError(error, fn), elapsedMicros(begin));
      }
      if (context !== undefined) setGlobal('taskContext', undefined);
      if (results.length >= RESULT_FLUSH_COUNT * RESULT_STRIDE || now - lastPost >= RESULT_FLUSH_MS) {
        postResults();
      }
    }
  }
  running = false;
}

function define(def: FunctionDef): Fn | Promise<Fn | SerializedError> | SerializedError {
  if (def.source !== undefined) {
    try {
      return compile(def.source, def.name);
    } catch (error) {
      return notPortable(error, `${def.name || 'the function'} could not be compiled in a worker thread`);
    }
  }
  return importMarkingModule(def.module!).then(() => {
    const registry = getGlobal('threadedRegistry') as Map<string, Fn> | undefined;
    const fn = registry?.get(`${def.module}#${def.key}`);
    if (fn === undefined) {
      throw new Error(
        `${def.module} loaded in the worker thread but did not mark "${def.key}" with threaded() ` +
          `(is the threaded() call conditional, or made outside the module's top level?)`,
      );
    }
    return fn;
  }).catch((error: unknown) => notPortable(error, importFailure(def, error)));
}

/**
 * Import the module that marked a function. A TypeScript module the thread cannot load
 * means the parent's loader did not reach this thread: tsx (through `--import tsx` on
 * Node 20, or its register() API anywhere) registers its hooks on the main thread only.
 * Registering tsx here, once, and retrying makes both cases work; other loaders get the
 * explanation in {@link importFailure}.
 */
async function importMarkingModule(url: string): Promise<unknown> {
  try {
    return await import(url);
  } catch (error) {
    if ((error as { code?: unknown })?.code !== 'ERR_UNKNOWN_FILE_EXTENSION' || !(await registerTsx(url))) throw error;
    // Node remembers the failed load of `url`: a query makes it a new module. threaded()
    // drops the query from its key, so the function is registered under the same key.
    return import(`${url}?loopguard-tsx`);
  }
}

let tsxRegistered: Promise<boolean> | undefined;
const TSX_API = ['tsx', 'esm', 'api'].join('/');

function registerTsx(moduleUrl: string): Promise<boolean> {
  tsxRegistered ??= (async () => {
    let api: { register?: () => unknown } | undefined;
    try {
      // A variable specifier, so the bundler leaves tsx to be resolved at run time.
      api = (await import(TSX_API)) as { register?: () => unknown };
    } catch {
      try {
        // Not resolvable from loopguard's own location: look next to the marking module.
        const manifest = createRequire(moduleUrl).resolve('tsx/package.json');
        api = (await import(pathToFileURL(join(dirname(manifest), 'dist/esm/api/index.mjs')).href)) as typeof api;
      } catch {
        return false;
      }
    }
    if (typeof api?.register !== 'function') return false;
    api.register();
    return true;
  })();
  return tsxRegistered;
}

function importFailure(def: FunctionDef, error: unknown): string {
  const name = def.name || def.key;
  const reason = error instanceof Error ? error.message : String(error);
  let message =
    `${name} cannot run in a worker thread: importing ${def.module} there failed (${reason}); ` +
    `move the function into a module of its own that a worker can import without side effects`;
  if ((error as { code?: unknown })?.code === 'ERR_UNKNOWN_FILE_EXTENSION') {
    message +=
      `. Loader hooks registered with module.register() are not inherited by worker threads ` +
      `(loopguard registers tsx in the thread by itself, but tsx was not found): start Node with ` +
      `the loader on the command line (e.g. node --import tsx app.ts, or NODE_OPTIONS="--import tsx") ` +
      `so every thread gets it through execArgv`;
  }
  return message;
}

function compile(source: string, name: string): Fn {
  // Method shorthand (`sum(a, b) { … }`) is not an expression; an object literal makes it one.
  let factory: () => unknown;
  try {
    factory = new Function('require', `return (${source}\n);`).bind(null, requireForSource) as () => unknown;
  } catch {
    factory = new Function('require', `return ({ ${source}\n })[${JSON.stringify(name)}];`).bind(
      null,
      requireForSource,
    ) as () => unknown;
  }
  const fn = factory();
  if (typeof fn !== 'function') throw new TypeError(`source of ${name} did not evaluate to a function`);
  // A free variable only fails when the code reaches it: name it the way threaded() needs.
  const compiled = function (...args: unknown[]) {
    try {
      const value = (fn as Fn)(...args);
      if (value instanceof Promise) return value.catch((error: unknown) => Promise.reject(freeVariable(error)));
      return value;
    } catch (error) {
      throw freeVariable(error);
    }
  };
  Object.defineProperty(compiled, 'name', { value: name });
  return compiled;
}

function addTransfers(value: unknown): void {
  if (value === null || typeof value !== 'object') return;
  const lists = getGlobal('transferLists');
  const list = lists?.get(value);
  if (list !== undefined) for (const item of list) transfers.push(item);
}

/** Whole µs since `begin`: a small integer is cloned and revived without a heap number. */
function elapsedMicros(begin: number): number {
  now = performance.now();
  return Math.round((now - begin) * 1000);
}

function postResults(): void {
  lastPost = performance.now();
  if (results.length === 0) return;
  const batch = results;
  const list = transfers;
  results = [];
  transfers = [];
  try {
    port.postMessage(batch, list);
  } catch (error) {
    // One result could not be cloned: send them one by one, each failure as an error of its task.
    for (let i = 0; i < batch.length; i += RESULT_STRIDE) {
      try {
        port.postMessage([batch[i + RESULT_STATUS], batch[i + RESULT_VALUE], batch[i + RESULT_RUN_US]]);
      } catch (cloneError) {
        const message = `the result could not be cloned to the main thread: ${(cloneError as Error).message}`;
        port.postMessage([STATUS_THROWN, { name: 'DataCloneError', message, cause: serializeError(error) }, batch[i + RESULT_RUN_US]]);
      }
    }
  }
}
