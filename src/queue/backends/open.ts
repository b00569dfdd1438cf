/**
 * One door to the backends: the URL's scheme picks pg-boss (PostgreSQL) or BullMQ (Redis).
 * Each backend module is imported only when its scheme is used, and it loads its client library
 * (an optional peer) only then, so an app on PostgreSQL never needs bullmq installed.
 */
import { InvalidOptionRangeError, InvalidOptionTypeError } from '../../errors.js';
import type { BackendOptions, QueueBackend } from '../backend.js';

const SCHEMES: Readonly<Record<string, 'pg-boss' | 'bullmq'>> = {
  'postgres:': 'pg-boss',
  'postgresql:': 'pg-boss',
  'redis:': 'bullmq',
  'rediss:': 'bullmq',
};

/** The backend a URL's scheme names; throws naming `url` (never its password) otherwise. */
export function backendKind(url: string): 'pg-boss' | 'bullmq' {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidOptionTypeError(`url must be a URL such as postgres://user:password@host/db or redis://host:6379, got ${redactUrl(url)}`);
  }
  const kind = SCHEMES[parsed.protocol];
  if (kind === undefined) {
    throw new InvalidOptionRangeError(
      `url must start with postgres:// or postgresql:// (pg-boss) or redis:// or rediss:// (BullMQ), got ${redactUrl(url)}`,
    );
  }
  return kind;
}

/** Open (not yet connect) the backend for `url`; `name` is the queue's name on the server. */
export async function openBackend(url: string, name: string, options: BackendOptions): Promise<QueueBackend> {
  if (backendKind(url) === 'pg-boss') {
    const { openPgBoss } = await import('./pg-boss.js');
    return openPgBoss(url, name, options);
  }
  const { openBullMQ } = await import('./bullmq.js');
  return openBullMQ(url, name, options);
}

/**
 * Load the backend's module and its client library now, without connecting. Importing pg-boss
 * or BullMQ evaluates a large module graph, hundreds of ms of the loop: done on the first
 * enqueue, that block lands in a request, the very thing loopguard exists to prevent. Started
 * when the queue is made (at start-up, in the usual module-level createQueue), it runs there
 * instead, and counts as start-up. Failures are left for the first real use to report.
 */
export function preloadBackend(url: string): void {
  const loading = backendKind(url) === 'pg-boss' ? import('./pg-boss.js') : import('./bullmq.js');
  loading.then((backend) => backend.preload(url)).catch(() => undefined);
}

/** The URL for a message: its password replaced, so that errors and logs never carry it. */
export function redactUrl(url: unknown): string {
  if (typeof url !== 'string') return String(url);
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return `\`${parsed.href}\``;
  } catch {
    // Not a URL: still hide what looks like user:password@.
    return `\`${url.replace(/\/\/([^/@:]*):[^/@]*@/, '//$1:***@')}\``;
  }
}
