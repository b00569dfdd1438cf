import type { TransferListItem } from 'node:worker_threads';
import { ensureGlobal } from '../../shared/globals.js';

/** ArrayBuffers named by transfer(value, list), keyed by value; shared by both builds and the thread. */
export const transferLists = ensureGlobal('transferLists', () => new WeakMap<object, TransferListItem[]>());

/** The run() option's list plus whatever transfer() marked on the arguments. */
export function collectTransfers(args: unknown[], given: TransferListItem[] | undefined): TransferListItem[] | undefined {
  let list = given;
  for (const arg of args) {
    if (arg === null || typeof arg !== 'object') continue;
    const marked = transferLists.get(arg);
    if (marked === undefined) continue;
    transferLists.delete(arg); // once moved, the buffers are detached: never list them twice
    list = list === undefined ? [...marked] : [...list, ...marked];
  }
  return list;
}
