/**
 * Start-up with a stack, for a whole app run under loopguard/register (and the CLI): the rule.
 *
 * Module loading is start-up by its frames, and a stackless block before the loop first went
 * idle by its time (monitor.ts). Neither sees what a server does between its first `await` and
 * being ready: `NestFactory.create` (seconds of dependency injection after an await),
 * json-server's database load, Verdaccio's set-up under clipanion. What ends a server's
 * start-up is that it starts listening, so: **a block that started before the process's first
 * server listened (net.Server 'listening': http, https, http2, net) is start-up** — unless it
 * ran for a request or a named context (a block in a handler is never start-up), or is already
 * judged (module loading, 'host', loopguard's own).
 *
 * Whether the process will listen at all is not known when the block ends: a script or a queue
 * worker never does, and its blocks are its work, not start-up. So a block that might be
 * start-up is held back (not counted, logged or delivered) until the first server listens —
 * then it is start-up — or until {@link LISTEN_WAIT_MS} after the first held block: then the
 * process is taken for one that does not listen (or listens too late to call what came before
 * its set-up), the held blocks are delivered as they are, and start-up is over for good. At
 * exit, and when the monitor stops, held blocks are delivered at once. A block reported after
 * the first listen but started before it (its stack was still being assembled) is start-up too.
 *
 * Why register only, not every monitor: holding events back delays what a monitor started in
 * code delivers to the app's own listeners (and tests), by up to LISTEN_WAIT_MS, in every
 * process that does not listen. Under register the app has no listeners of its own on the
 * monitor; the log line and the summary are ours.
 *
 * The cost: the first blocks of a process that never listens are logged up to LISTEN_WAIT_MS
 * late. A block after start-up is never held.
 */
import { tracingChannel } from 'node:diagnostics_channel';
// From node:timers, not the globals: a test's fake timers must not stop the judge.
import { clearTimeout, setTimeout } from 'node:timers';
import type { BlockEvent } from '../types.js';

/**
 * How long after the first held block a server may still start listening for it to count as
 * start-up. Long enough for what follows the slowest set-up step (Nest registers its routes,
 * then listens, within milliseconds; an await on a database connection takes longer); short
 * enough that a script's first block is only a little late in the log.
 */
export const LISTEN_WAIT_MS = 3000;

/** At most this many blocks are held (a busy script's first seconds); past it, all are delivered. */
const MAX_HELD = 100;

type TracingSubscribers = Parameters<ReturnType<typeof tracingChannel>['subscribe']>[0];

export class ListenStartup {
  readonly #deliver: (event: BlockEvent) => void;
  readonly #startedAt: number;
  #held: BlockEvent[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Epoch ms of the first 'listening'; undefined before. */
  #listenedAt: number | undefined;
  /** Start-up has ended without a listen (the wait ran out): nothing is held or judged again. */
  #over = false;
  readonly #subscribers: TracingSubscribers;
  readonly #channel: ReturnType<typeof tracingChannel> | undefined;

  /** `startedAt`: epoch ms the monitor started; blocks before it are not judged. */
  constructor(deliver: (event: BlockEvent) => void, startedAt: number) {
    this.#deliver = deliver;
    this.#startedAt = startedAt;
    // asyncEnd: the server is bound and 'listening' is about to be emitted; a failed listen is 'error'.
    this.#subscribers = {
      start() {},
      end() {},
      asyncStart() {},
      asyncEnd: () => this.#onListening(),
      error() {},
    };
    try {
      this.#channel = tracingChannel('net.server.listen');
      this.#channel.subscribe(this.#subscribers);
    } catch {
      // A Node without the channel: no listen is ever seen, so held blocks go out after the wait.
      this.#channel = undefined;
    }
  }

  /** True when `event` is taken care of here (held); false: deliver it now (its phase may be set). */
  judge(event: BlockEvent): boolean {
    if (this.#over || !this.#mayBeStartup(event)) return false;
    if (this.#listenedAt !== undefined) {
      if (event.startedAt < this.#listenedAt) event.phase = 'startup';
      return false;
    }
    if (this.#held.length >= MAX_HELD) {
      this.#end();
      return false;
    }
    this.#held.push(event);
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#end(), LISTEN_WAIT_MS);
      this.#timer.unref();
    }
    return true;
  }

  /** Deliver what is held, as it is (exit, stop). */
  flush(): void {
    this.#end();
  }

  close(): void {
    this.#end();
    this.#unsubscribe();
  }

  /** Once start-up is judged over, later listens are none of our business. */
  #unsubscribe(): void {
    try {
      this.#channel?.unsubscribe(this.#subscribers);
    } catch {
      // nothing to undo
    }
  }

  #mayBeStartup(event: BlockEvent): boolean {
    if (event.phase !== undefined || event.kind === 'sync-call' || event.cause === 'host') return false;
    if (event.startedAt < this.#startedAt) return false;
    const context = event.context;
    // A block in a request, a job or a withContext() is the app at work, never start-up.
    if (context !== undefined && Object.values(context).some((value) => value !== undefined)) return false;
    return true;
  }

  #onListening(): void {
    if (this.#listenedAt !== undefined || this.#over) return;
    this.#listenedAt = Date.now();
    this.#unsubscribe();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const held = this.#held;
    this.#held = [];
    for (const event of held) {
      event.phase = 'startup';
      this.#deliver(event);
    }
  }

  #end(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#listenedAt === undefined) {
      this.#over = true;
      this.#unsubscribe();
    }
    const held = this.#held;
    this.#held = [];
    for (const event of held) this.#deliver(event);
  }
}
