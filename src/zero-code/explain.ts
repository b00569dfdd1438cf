/**
 * What keeps the process alive.
 *
 * Two levels, because knowing *where* a handle was created costs a lot: why-is-node-running
 * records a stack trace in an async_hooks `init` hook for every async resource, and only for
 * resources created after it was loaded. Measured here on a node:http hello service it cut
 * requests per second about 8×, so it is opt-in (`trackHandles()`, which `loopguard/register`
 * calls under `LOOPGUARD_TRACK_HANDLES=true` before the app loads). Without it we still list
 * the kinds of the live handles from `process.getActiveResourcesInfo()`, which costs nothing.
 */
import { createRequire } from 'node:module';
import { format } from 'node:util';
import { ensureGlobal, getGlobal } from '../shared/globals.js';

type WhyIsNodeRunning = (logger: { error(...args: unknown[]): void }) => void;

/**
 * Start recording where handles are created. Call it as early as possible (a preload):
 * handles created before it are not seen. why-is-node-running is ESM; require(esm) (Node
 * 20.19+, 22.12+) loads it synchronously from either build, so the hook is on before the
 * app's first line runs.
 */
export function trackHandles(): void {
  ensureGlobal('whyIsNodeRunning', () => {
    const loaded = createRequire(import.meta.url)('why-is-node-running') as
      | WhyIsNodeRunning
      | { default: WhyIsNodeRunning };
    return typeof loaded === 'function' ? loaded : loaded.default;
  });
}

/** Group `['Timeout', 'Timeout', 'TCPServerWrap']` into `Timeout ×2, TCPServerWrap`. */
function describeResources(resources: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const resource of resources) counts.set(resource, (counts.get(resource) ?? 0) + 1);
  return [...counts].map(([resource, count]) => (count === 1 ? resource : `${resource} ×${count}`)).join(', ');
}

/**
 * Our own stdout and stderr show up as TTYWrap or PipeWrap but never hold the process open:
 * leave them out so the list shows only what the app must close.
 */
function withoutStdio(resources: readonly string[]): string[] {
  const kept = resources.filter((resource) => resource !== 'TTYWrap');
  for (const stream of [process.stdout, process.stderr]) {
    if ((stream as { _type?: string })._type !== 'pipe') continue;
    const index = kept.indexOf('PipeWrap');
    if (index !== -1) kept.splice(index, 1);
  }
  return kept;
}

/**
 * Print to stderr what keeps the process alive: the kinds of live handles, and, when handle
 * tracking is on, where each was created (via why-is-node-running).
 */
export function explainHandles(): void {
  // process.stderr is synchronous for files, pipes and terminals on POSIX, so this also
  // works from a timer that fires just before the process is killed.
  const write = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const resources = withoutStdio(process.getActiveResourcesInfo());
  write(
    resources.length === 0
      ? 'loopguard: no active handles keep the process alive'
      : `loopguard: ${resources.length} active handle(s) keep the process alive: ${describeResources(resources)}`,
  );
  const whyIsNodeRunning = getGlobal('whyIsNodeRunning');
  if (whyIsNodeRunning === undefined) {
    write(
      'loopguard: to see where each was created, run with LOOPGUARD_TRACK_HANDLES=true ' +
        '(npx loopguard --track-handles); it slows the process down, so use it to debug exits',
    );
    return;
  }
  whyIsNodeRunning({ error: (...args: unknown[]) => write(format(...args)) });
}
