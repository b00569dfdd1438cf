// The app's side of the worker tests, through the backend interface itself: jobs sent by a
// function's key with payload.ts's encoding, as createQueue() sends them.
import type { JobSnapshot, QueueBackend, SendOptions } from '../../src/queue/backend.js';
import { decodeError, decodeValue, encodeArguments } from '../../src/queue/payload.js';

export type Server = 'redis' | 'postgres';

export async function openTestBackend(url: string, name: string): Promise<QueueBackend> {
  const { openBackend } = await import('../../src/queue/backends/open.js');
  const backend = await openBackend(url, name, { pollInterval: 100, timeout: 2000 });
  await backend.connect();
  return backend;
}

export const SEND_DEFAULTS: SendOptions = { retries: 0, retryDelay: 100, timeout: 10_000, priority: 0, delay: 0 };

export function send(backend: QueueBackend, fn: string, args: unknown[], options: Partial<SendOptions> = {}): Promise<string> {
  return backend.send({ fn, args: encodeArguments(fn, args) }, { ...SEND_DEFAULTS, ...options });
}

export interface Outcome {
  snapshot: JobSnapshot;
  value?: unknown;
  error?: Error;
}

/** Wait for the job to settle and decode what it left. */
export async function outcome(backend: QueueBackend, id: string, timeout = 45_000): Promise<Outcome> {
  const snapshot = await backend.settled(id, AbortSignal.timeout(timeout));
  if (snapshot.state === 'completed') return { snapshot, value: decodeValue(snapshot.output!) };
  return { snapshot, ...(snapshot.output === undefined ? {} : { error: decodeError(snapshot.output) }) };
}
