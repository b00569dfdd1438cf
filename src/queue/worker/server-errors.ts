/**
 * The worker's log of what its backend could throw to no one (the `loopguard:queue:error`
 * diagnostics channel): a lost connection, a failed fetch or poll, an outcome not yet stored.
 * A worker whose server went away keeps running and tries again; its operator should still
 * see why no job moves. One line per operation at most every THROTTLE_MS: a server that is
 * down fails every poll, ten times a second.
 */
import { diagnosticsChannel } from '../backends/diagnostics.js';
import { errorSummary, type WorkerLog } from './log.js';

const THROTTLE_MS = 5000;

interface Published {
  queue?: unknown;
  backend?: unknown;
  operation?: unknown;
  error?: unknown;
}

/** Log queue `name`'s published errors as `queue error` warnings; returns the unsubscribe. */
export function logServerErrors(name: string, log: WorkerLog): () => void {
  const last = new Map<string, { at: number; suppressed: number }>();
  const onMessage = (message: unknown): void => {
    const { queue, backend, operation, error } = (message ?? {}) as Published;
    if (queue !== name) return;
    const key = typeof operation === 'string' ? operation : '';
    const now = Date.now();
    const seen = last.get(key);
    if (seen !== undefined && now - seen.at < THROTTLE_MS) {
      seen.suppressed += 1;
      return;
    }
    last.set(key, { at: now, suppressed: 0 });
    log(
      {
        msg: 'queue error',
        queue: name,
        ...(typeof backend === 'string' ? { backend } : {}),
        ...(key === '' ? {} : { operation: key }),
        error: errorSummary(error),
        ...(seen === undefined || seen.suppressed === 0 ? {} : { suppressed: seen.suppressed }),
      },
      'warn',
    );
  };
  diagnosticsChannel.subscribe(onMessage);
  return () => diagnosticsChannel.unsubscribe(onMessage);
}
