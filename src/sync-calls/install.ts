/**
 * Wrapping of Node's blocking APIs: every function whose name ends in `Sync` on `fs`,
 * `child_process`, `zlib` and `crypto` as this Node has them (which includes sync key
 * generation: `crypto.generateKeyPairSync`, `generateKeySync`, `generatePrimeSync`).
 *
 * Two uses, one installation:
 *  - while a monitor runs, `hooks` tell it which native API is running, so the watchdog can
 *    name it during a block (`cause: 'native'`, `call`) although the inspector cannot pause
 *    native code. The cost is a depth check and two hook calls per sync call;
 *  - with `policy: 'warn' | 'throw'`, a development-time policy that reports (once per call
 *    site) or throws {@link BlockingCallError} on such calls inside a request or task context.
 *
 * ESM named imports (`import { readFileSync } from 'node:fs'`) are live bindings of Node's
 * builtin ESM facade; `module.syncBuiltinESMExports()` updates them, even in modules that
 * imported the name before the wrapper was installed. A name destructured out of the CJS
 * object earlier (`const { readFileSync } = require('fs')`) keeps the original: install
 * early (the `loopguard/register` preload does). `uninstall()` restores every original.
 *
 * Only the outermost wrapped call counts (Node's `readFileSync` calls the public
 * `fs.openSync`). Hooks see every outermost call; the policy leaves out calls made by Node
 * itself (the module loader reading a lazily required file, also through a loader hook such
 * as tsx's) and `crypto.randomFillSync`, which id generators call for a few bytes.
 */
import { syncBuiltinESMExports } from 'node:module';
import type { BlockEvent, IgnoreRules } from '../types.js';
import { trackHttpRequests } from './http.js';
import { createPolicy, type Policy } from './policy.js';
import { markOwnFile } from '../shared/stack-text.js';

markOwnFile(new Error().stack);


/** The builtin modules whose `*Sync` functions are wrapped, by the prefix used in `call`. */
const SYNC_MODULES = ['fs', 'child_process', 'zlib', 'crypto'] as const;

export interface SyncCallHooks {
  /** Called synchronously right before a wrapped API runs, e.g. with `'crypto.pbkdf2Sync'`. */
  onEnter(call: string): void;
  /** Called synchronously right after it returned or threw. */
  onExit(call: string): void;
}

export interface SyncCallsOptions {
  /**
   * `'warn'`: report calls made inside a request or task context, once per call site;
   * `'throw'`: throw {@link BlockingCallError} there instead of running the call;
   * `false`: no policy, only `hooks`. Calls outside any context are always allowed.
   * The context is `currentContext()` (guard/withContext) or, while a policy is on, the
   * node:http(s) request being served (tracked with AsyncLocalStorage for that purpose).
   */
  policy: 'warn' | 'throw' | false;
  /** Told about every outermost wrapped call, policy or not (the monitor's watchdog feed). */
  hooks?: SyncCallHooks;
  /**
   * Receives `kind: 'sync-call'` events under `'warn'`, once per call site (the first user
   * frame's `file:line:column` and the API), after the call returned, with its duration.
   * Frames are raw (`--enable-source-maps` maps them already); source-mapping is the
   * receiver's job. Required with `'warn'`.
   */
  report?: (event: BlockEvent) => void;
  /** Allow-list: matching calls are neither reported nor thrown (see `isIgnored`). */
  ignore?: ((event: BlockEvent) => boolean) | IgnoreRules;
  /** Copied into each event's `threshold` (the monitor's). @default 100 */
  threshold?: number;
}

export interface SyncCallsHandle {
  /**
   * Put back every original function (and the ESM named exports with them) and the
   * node:http(s) `emit`. Where someone else wrapped a function after us, theirs stays in
   * place and ours turns into a plain pass-through. Calling it twice is harmless.
   */
  uninstall(): void;
}

function builtin(name: (typeof SYNC_MODULES)[number]): Record<string, unknown> {
  return process.getBuiltinModule(`node:${name}`) as unknown as Record<string, unknown>;
}

/** Own writable data properties that are functions named `…Sync` (not `lchmodSync` on Linux). */
function syncKeysOf(name: (typeof SYNC_MODULES)[number]): string[] {
  const target = builtin(name);
  return Object.keys(target).filter((key) => {
    if (!key.endsWith('Sync')) return false;
    const descriptor = Object.getOwnPropertyDescriptor(target, key);
    return typeof descriptor?.value === 'function' && descriptor.writable === true;
  });
}

interface WrapState {
  active: boolean;
  /** 1 while a wrapped call runs: calls it makes itself (readFileSync → openSync) pass through. */
  depth: number;
  hooks: SyncCallHooks | undefined;
  policy: Policy | undefined;
}

interface Patch {
  target: Record<string, unknown>;
  key: string;
  original: Function;
  wrapper: Function;
}


/**
 * Wrap the blocking APIs (see the module comment). With `policy: false` and no `hooks`
 * there is nothing to do and nothing is wrapped.
 */
export function installSyncCalls(options: SyncCallsOptions): SyncCallsHandle {
  // Internal: the monitor validated its options (syncCalls, ignore, threshold) already.
  const settings = { ...options, threshold: options.threshold ?? 100 };
  if (settings.policy === false && settings.hooks === undefined) return { uninstall() {} };

  const state: WrapState = {
    active: true,
    depth: 0,
    hooks: settings.hooks,
    policy:
      settings.policy === false
        ? undefined
        : createPolicy({
            policy: settings.policy,
            threshold: settings.threshold,
            report: settings.report,
            ignore: settings.ignore,
          }),
  };
  const patches: Patch[] = [];
  for (const name of SYNC_MODULES) {
    const target = builtin(name);
    for (const key of syncKeysOf(name)) {
      const original = target[key] as Function;
      const wrapper = wrap(`${name}.${key}`, original, state);
      target[key] = wrapper;
      patches.push({ target, key, original, wrapper });
    }
  }
  syncBuiltinESMExports();
  const untrackHttp = state.policy === undefined ? undefined : trackHttpRequests();

  return {
    uninstall() {
      if (!state.active) return;
      state.active = false;
      for (const { target, key, original, wrapper } of patches) {
        if (target[key] === wrapper) target[key] = original;
      }
      syncBuiltinESMExports();
      untrackHttp?.();
    },
  };
}

function wrap(call: string, original: Function, state: WrapState): Function {
  const wrapper = function (this: unknown, ...args: unknown[]): unknown {
    if (!state.active || state.depth !== 0) return Reflect.apply(original, this, args);
    // Judged before the call: 'throw' must stop it from running at all.
    const pending = state.policy?.before(call, wrapper);
    const hooks = state.hooks;
    state.depth = 1;
    try {
      hooks?.onEnter(call);
      return Reflect.apply(original, this, args);
    } finally {
      state.depth = 0;
      hooks?.onExit(call);
      if (pending !== undefined) state.policy?.after(pending);
    }
  };
  // Keep what code may inspect: name and length, and extra properties such as
  // `fs.realpathSync.native`.
  for (const key of Reflect.ownKeys(original)) {
    if (key === 'prototype' || key === 'arguments' || key === 'caller') continue;
    const descriptor = Object.getOwnPropertyDescriptor(original, key);
    if (descriptor !== undefined) Object.defineProperty(wrapper, key, descriptor);
  }
  return wrapper;
}
