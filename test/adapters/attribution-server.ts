/**
 * The attribution fixture server (test/fixtures/attribution/server.mjs) in a child process, and
 * the wait for the block in its library: shared by the after-awaits and the continuation tests.
 */
import { startFixture, type JsonLineProcess } from './fixture-process.js';

export interface BlockEventLike {
  kind: string;
  duration: number;
  context?: Record<string, unknown>;
  stack: Array<{ function: string; file: string }>;
  /** Every distinct stack seen while it lasted (a stack taken late may show only what ran next). */
  stacks?: Array<Array<{ function: string; file: string }>>;
}

const FIXTURE = '../attribution/server.mjs';

export function startServer(framework: string, ...extra: string[]): { server: JsonLineProcess; ready: Promise<string> } {
  const server = startFixture(FIXTURE, [framework, '50', ...extra]);
  return { server, ready: server.next('ready', 20_000).then((message) => String(message['url'])) };
}

/**
 * The next block whose stack names the library (`digestSync`): start-up work may block too,
 * without it. `anyStack` also takes a block that showed the library in any of its stacks (a
 * stack taken late may show only what ran next); `skip` is how many other events to pass over
 * (a loaded host makes many short stalls of its own, with no stack and cause 'host').
 */
export async function blockInLibrary(
  server: JsonLineProcess,
  { timeout, skip, anyStack }: { timeout: number; skip: number; anyStack: boolean },
): Promise<BlockEventLike> {
  const skipped: BlockEventLike[] = [];
  const inLibrary = (stack: BlockEventLike['stack']): boolean => stack.some((frame) => frame.function === 'digestSync');
  for (;;) {
    let event: BlockEventLike;
    try {
      event = (await server.next('block', timeout))['event'] as BlockEventLike;
    } catch (error) {
      throw new Error(`${(error as Error).message}\nevents skipped: ${JSON.stringify(skipped)}`, { cause: error });
    }
    if (inLibrary(event.stack) || (anyStack && event.stacks?.some(inLibrary) === true)) return event;
    skipped.push(event);
    if (skipped.length > skip) throw new Error(`no block in digestSync; events skipped: ${JSON.stringify(skipped)}`);
  }
}
