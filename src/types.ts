/** Public types shared by the monitor, the testing helpers, the adapters and the reports. */

export interface StackFrame {
  function: string;
  file: string;
  line: number;
  column: number;
}

/** The request or task a block happened in. */
export interface BlockContext {
  method?: string;
  /** The framework's route pattern, e.g. `/users/:id`, when an adapter knows it. */
  route?: string;
  /** The URL path without the query string (queries can carry secrets). */
  path?: string;
  /** A name given with `guard()` / `withContext()`. */
  name?: string;
  [key: string]: unknown;
}

export interface BlockEvent {
  kind: 'block' | 'hang' | 'sync-call';
  /** ms the loop was blocked (measured on the main thread); for 'hang', so far. */
  duration: number;
  threshold: number;
  /** Epoch ms. */
  startedAt: number;
  /** Innermost first, source-mapped; `[]` when not captured. */
  stack: StackFrame[];
  context?: BlockContext;
  /** The blocking Node API when known, e.g. `'crypto.pbkdf2Sync'` (always set for 'sync-call'). */
  call?: string;
  /**
   * What kept the loop: `'js'` JavaScript running (the stack shows it), `'native'` a known
   * blocking Node API (`call`), `'gc'` garbage collection, `'wait'` the main thread parked, not
   * computing (`Atomics.wait`, a sync child process, sync I/O on a slow device), `'host'` the
   * process itself was not running (SIGSTOP, a paused VM, an overloaded host: no frame is
   * blamed, `stack` is `[]`), `'unknown'` when nothing said which.
   */
  cause: 'js' | 'native' | 'gc' | 'wait' | 'host' | 'unknown';
  /**
   * The stack was taken after the blocking work had ended (native work V8 does not interrupt,
   * e.g. JSON.parse of a large body, or a sync child process): it shows what ran next, which may
   * not be the culprit.
   */
  stackLate?: true;
  /**
   * For a long block or a hang whose stack was taken more than once: the distinct stacks seen
   * while it lasted (at most 8: the first and the most recent), oldest first; `stack` is the
   * latest. Stacks running the same functions in the same files count as one.
   */
  stacks?: StackFrame[][];
  /** When each of `stacks` was first seen (epoch ms), in the same order. */
  stacksSeenAt?: number[];
  /**
   * `'fn (file:line)'` of the innermost frame of the app's own code (not under node_modules,
   * not Node's `node:` internals, not loopguard's own), else of the innermost visible frame;
   * the API name (`call`) or `'<unknown>'` without a stack.
   */
  site: string;
  /**
   * The package whose code was running, when the innermost visible frame is not the app's own:
   * the name after its last `node_modules/` (`'bcryptjs'`, `'@nestjs/core'`).
   */
  library?: string;
  /**
   * The block ran a module's top-level code (an `import` or `require` being evaluated), or had no
   * stack and came before the loop first went idle, or (under loopguard/register and the CLI)
   * started before the app's first server listened, outside any request: start-up work, left out
   * of `topBlockers()` and counted in `stats().startup` instead.
   */
  phase?: 'startup';
}

export interface DelayStats {
  min: number;
  max: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p99: number;
}

export interface LoopStats {
  /** ms, timer resolution subtracted; `max` is never hidden by averaging. */
  delay: DelayStats;
  /** Event-loop utilisation, 0..1. */
  utilization: number;
  blocks: { count: number; totalMs: number; longestMs: number };
  routes: Record<string, { blocks: number; totalMs: number; maxMs: number }>;
  /**
   * Blocks with `phase: 'startup'` (also counted in `blocks`): their total ms, their number, and
   * which modules took the time (the module whose top-level code ran, or its package for one
   * under node_modules; the site for a start-up block outside module loading), longest first.
   */
  startup: { ms: number; blocks: number; modules: Array<{ module: string; ms: number }> };
  /**
   * Blocks with `cause: 'host'` (also counted in `blocks`): the process was not running (SIGSTOP,
   * a paused VM, a host that starved it). No code of the app's is to blame: never a top blocker.
   */
  host: { ms: number; blocks: number };
  /**
   * Blocks that were loopguard's own work on the main thread (also counted in `blocks`): their
   * events carry `library: 'loopguard'`; never a top blocker.
   */
  own?: { ms: number; blocks: number };
  /** Epoch ms the window started. */
  since: number;
  /**
   * libuv's thread pool (fs, dns.lookup, crypto, zlib; `UV_THREADPOOL_SIZE` threads, 4 by
   * default): how long a tiny work item waited for a thread. Absent with `libuv: false`.
   */
  libuv?: LibuvStats;
}

/** The libuv thread-pool probe's figures (`stats().libuv`). */
export interface LibuvStats {
  /**
   * ms a one-byte `crypto.randomFill` waited for a libuv thread (the loop's own lateness left
   * out), over the last 60 probes (one a second: the last minute, not since start); `max`
   * includes a probe still waiting.
   */
  delay: { p50: number; p99: number; max: number };
  /** ms, since the monitor started, that probes waited longer than `threshold`. */
  saturatedMs: number;
}

export interface BlockerSummary {
  /** `'fn (file:line)'`: the app's own function (BlockEvent `site`), line of the latest block. */
  site: string;
  /** The package that was running (BlockEvent `library`), when one was. */
  library?: string;
  /** `'slow-crypt.digestSync via verifyChecksum (app/lib/checksum.mjs:5)'`, or the site alone: how rows are shown. */
  label: string;
  route?: string;
  count: number;
  totalMs: number;
  maxMs: number;
  stack: StackFrame[];
}

/** One sample of the loop-delay timeline kept for reports (one per second, bounded). */
export interface TimelinePoint {
  /** Epoch ms at the end of the sample. */
  t: number;
  p50: number;
  p99: number;
  max: number;
  utilization: number;
}

export interface IgnoreRules {
  functions?: ReadonlyArray<string | RegExp>;
  files?: ReadonlyArray<string | RegExp>;
  routes?: ReadonlyArray<string | RegExp>;
}

export interface Logger {
  warn(obj: unknown, msg?: string): void;
}

export interface MonitorOptions {
  /** ms a single synchronous stretch may run before it counts as a block. @default 100 */
  threshold?: number;
  /** Capture the stack of the blocking code while it blocks, from a watchdog thread. @default true */
  stacks?: boolean;
  /**
   * ms after which a block still in progress is written to stderr by the watchdog; `0` turns it
   * off. Otherwise it must be greater than `threshold`.
   * @default `Math.max(5000, 2 * threshold)`: 5000 at the default threshold
   */
  hangTimeout?: number;
  /** Report original file:line where a source map exists. @default true */
  sourceMaps?: boolean;
  /** `'pretty'` on a TTY or outside production, else `'json'`. */
  log?: 'pretty' | 'json' | false | Logger;
  /** ms window in which repeated blocks at the same site and route are logged once and counted. @default 60000 */
  dedupe?: number;
  /** Attribute blocks to the node:http request being served, with no per-request cost. @default true */
  http?: boolean;
  /**
   * Have the adapters (and loopguard/register's node:http listener) run each request's handler
   * inside an `AsyncLocalStorage` context holding `{ method, route }` (node:http: `{ method, path }`),
   * so that a block in a `setImmediate` or timer callback, an event listener or a `.then()` below
   * the handler still names its request; the route frames cover only `await` chains. `'auto'`
   * turns it on only where V8's AsyncContextFrame backs AsyncLocalStorage (Node 24 and later,
   * Node 22 with `--experimental-async-context-frame`), where it costs about 1% of a hello
   * request; elsewhere it would turn promise hooks on for every promise of the process.
   * `true` opens it on any Node, `false` never. A context opened with `withContext()`/`guard()`
   * around the request wins, key by key.
   * @default 'auto'
   */
  requestContext?: 'auto' | boolean;
  /** Report (or throw on) blocking Node APIs called inside a request/task context. @default false */
  syncCalls?: 'warn' | 'throw' | false;
  /**
   * Wrap Node's blocking built-ins (every `*Sync` function of `fs`, `child_process`, `zlib` and
   * `crypto`) while the monitor runs, so that a block inside one is named (`cause: 'native'`,
   * `call: 'crypto.pbkdf2Sync'`): the inspector cannot pause native code. `false` touches no
   * built-in at all (and cannot be combined with `syncCalls`, which needs the same wrapping).
   * @default true
   */
  nativeCalls?: boolean;
  /**
   * Probe libuv's thread pool once a second (`stats().libuv`) and warn, once per episode, when
   * a tiny work item waits longer than `threshold` for a thread. `false` starts no probe and
   * leaves `stats().libuv` out.
   * @default true
   */
  libuv?: boolean;
  /** Blocks to leave out. */
  ignore?: ((event: BlockEvent) => boolean) | IgnoreRules;
  /** Called for every block, same as `monitor.on('block')`. */
  onBlock?: (event: BlockEvent) => void;
}

export interface Monitor {
  on(event: 'block', listener: (event: BlockEvent) => void): this;
  off(event: 'block', listener: (event: BlockEvent) => void): this;
  once(event: 'block', listener: (event: BlockEvent) => void): this;
  stats(): LoopStats;
  topBlockers(limit?: number): BlockerSummary[];
  /** The per-second delay timeline kept for reports (bounded). */
  timeline(): TimelinePoint[];
  /** The effective threshold in ms. */
  readonly threshold: number;
  /** Whether stacks can be captured here (false without an inspector). */
  readonly stacksAvailable: boolean;
  stop(): Promise<void>;
  /** The same as `stop()`: `await using monitor = startMonitor()`. */
  [Symbol.asyncDispose](): Promise<void>;
}
