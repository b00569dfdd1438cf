/**
 * `startMonitor()`: one monitor per process (even with both builds loaded), tying together
 * the heartbeat and watchdog, the delay sampler, the block assembler and the reporter.
 */
// From node:timers, not the globals: a test's fake timers must not stop the monitor.
import { AsyncResource } from 'node:async_hooks';
import { setImmediate } from 'node:timers';
import { contextStorage } from '../context.js';
import { ensureGlobal, getGlobal, setGlobal, type SharedMonitor } from '../shared/globals.js';
import { checkFunction, checkNumber, checkOneOf } from '../shared/validate.js';
import { registerRequestDescriber } from '../request-tag.js';
import type { BlockEvent, BlockerSummary, LibuvStats, LoopStats, Monitor, MonitorOptions, TimelinePoint } from '../types.js';
import { NATIVE_CALLS, type WatchdogMessage } from '../watchdog/protocol.js';
import { Aggregates } from './aggregates.js';
import { named } from '../shared/frames.js';
import { BlockAssembler } from './blocks.js';
import { DelaySampler } from './delay.js';
import { LibuvProbe, libuvWarning } from './libuv.js';
import { Heartbeat, inspectorUnavailableReason } from './heartbeat.js';
import { resolveMonitorOptions, type ResolvedMonitorOptions } from './options.js';
import { Reporter } from './reporter.js';
import { mapFileFrames, preloadMaps } from '../shared/sourcemaps.js';
import { installSyncCalls, type SyncCallsHandle } from '../sync-calls/install.js';
import { isIgnored } from '../shared/ignore.js';
import { openRequestContexts } from '../shared/request-context.js';
import { ListenStartup } from './startup-listen.js';

type BlockListener = (event: BlockEvent) => void;

/**
 * What other parts of loopguard use besides the public interface: the pool warns through
 * the monitor's reporter, sync-calls feeds its events in, and loopguard/testing waits for
 * the watchdog and for blocks to settle.
 */
export interface InternalMonitor extends Monitor, SharedMonitor {
  report(event: BlockEvent): void;
  /** Resolves once the watchdog thread is watching (at once without one). */
  readonly ready: Promise<void>;
  /** Resolves after the next heartbeat, once every block seen by then has been emitted. */
  settled(): Promise<void>;
  /**
   * Call `listener` once a second, from the heartbeat (after the timeline's point for that
   * second), instead of a timer of its own: the CLI stream's figures. Returns the unsubscribe.
   */
  everySecond(listener: () => void): () => void;
  /**
   * Call `listener` with each heartbeat's lateness in ms (the loop's delay, as sampled for
   * `stats().delay`): the exporters' windows, which then need no sampling timer of their own.
   * Returns the unsubscribe.
   */
  eachLateness(listener: (ms: number) => void): () => void;
  /**
   * From now on, a block that started before the process's first server listened is start-up
   * (startup-listen.ts): what loopguard/register turns on for the app it runs.
   */
  judgeStartupByListen(): void;
  /**
   * `stats().libuv` alone, undefined with `libuv: false`: what the exporters read at each
   * scrape. stats() also reads the delay histogram since start, whose mean and stddev walk
   * every bucket (~0.1–0.3 ms), for figures no exporter reports.
   */
  libuvStats(): LibuvStats | undefined;
}

/** Add `listener` to `listeners`; returns what takes it out again. */
function listen<L>(listeners: Set<L>, listener: L): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

const NATIVE_INDEX = new Map(NATIVE_CALLS.map((call, index) => [call, index + 1]));

class LoopMonitor implements InternalMonitor {
  readonly threshold: number;
  readonly ready: Promise<void>;
  #stacksAvailable: boolean;
  readonly #options: ResolvedMonitorOptions;
  readonly #listeners: Array<{ listener: BlockListener; once: boolean }> = [];
  readonly #reporter: Reporter;
  readonly #delay: DelaySampler;
  readonly #aggregates = new Aggregates();
  readonly #assembler: BlockAssembler;
  readonly #heartbeat: Heartbeat;
  readonly #syncCalls: SyncCallsHandle;
  readonly #libuv: LibuvProbe | undefined;
  #nextBeat: Array<() => void> = [];
  readonly #everySecond = new Set<() => void>();
  readonly #lateness = new Set<(ms: number) => void>();
  #markReady: () => void = () => undefined;
  #stopped = false;
  #flushedAtExit = false;
  /** Sync-call events waiting for their source maps (report), oldest first, and the turn that delivers the next. */
  readonly #syncCallsMapping: BlockEvent[] = [];
  #syncCallsMapped: Promise<void> | undefined;
  /** Made with the monitor, outside any request or task (see report). */
  readonly #outsideContexts = new AsyncResource('loopguard.syncCallMapping');
  readonly #onExit = (): void => this.flushAtExit();
  /**
   * Epoch ms when the loop first went idle after the monitor started (its first setImmediate
   * ran): a block without a stack that started before then is the app starting up.
   */
  #idleSince: number | undefined;
  /** Epoch ms, whole (as BlockEvent `startedAt` is rounded), when the monitor started. */
  readonly #startedAt = Math.floor(Date.now());
  /** Judges start-up by the first listen, where register asked for it. */
  #listenStartup: ListenStartup | undefined;
  /** Ends the adapters' per-request contexts (`requestContext`) when the monitor stops. */
  readonly #closeRequestContexts: () => void;

  constructor(options: ResolvedMonitorOptions) {
    this.#options = options;
    this.threshold = options.threshold;
    this.#reporter = new Reporter(options.log, options.dedupe);
    // The sampler and the probe have no timers of their own: the heartbeat calls them once a
    // second, in a beat (onSecond below), so they cost an idle loop no wake-up of their own.
    this.#delay = new DelaySampler();
    this.#libuv = options.libuv
      ? new LibuvProbe({
          threshold: options.threshold,
          onSaturated: (waitMs) => this.#reporter.warn(...libuvWarning(waitMs)),
        })
      : undefined;
    // The watchdog reads both through globalThis while the main thread is paused.
    void contextStorage;
    setImmediate(() => {
      this.#idleSince = Date.now();
    }).unref();
    registerRequestDescriber();
    this.#closeRequestContexts = openRequestContexts(options.requestContext);
    const unavailable = options.stacks ? inspectorUnavailableReason() : undefined;
    this.#stacksAvailable = options.stacks && unavailable === undefined;
    if (unavailable !== undefined) this.#sayStacksUnavailable(unavailable);
    this.ready = new Promise((resolve) => {
      this.#markReady = resolve;
    });
    if (!this.#stacksAvailable) this.#markReady();
    this.#assembler = new BlockAssembler({
      threshold: options.threshold,
      sourceMaps: options.sourceMaps,
      emit: (event) => this.report(event),
      shared: () => this.#heartbeat.shared,
    });
    this.#heartbeat = new Heartbeat({
      threshold: options.threshold,
      hangTimeout: options.hangTimeout,
      hangFormat: options.log === false ? 'none' : options.log === 'pretty' ? 'pretty' : 'json',
      http: options.http,
      sourceMaps: options.sourceMaps,
      stacks: this.#stacksAvailable,
      onStall: (stall) => {
        this.#delay.recordBlock(stall.duration);
        this.#assembler.onStall(stall);
      },
      onSecond: () => {
        // The probe first: its work item's completion may then come while the loop is still awake.
        this.#libuv?.tick();
        this.#delay.sample();
        for (const listener of this.#everySecond) {
          try {
            listener();
          } catch {
            // one listener's failure is its own
          }
        }
      },
      onLateness: (ms) => {
        this.#delay.recordLateness(ms);
        for (const listener of this.#lateness) listener(ms);
        const waiting = this.#nextBeat;
        if (waiting.length > 0) {
          this.#nextBeat = [];
          for (const resolve of waiting) resolve();
        }
      },
      onMessage: (message) => this.#onMessage(message),
      onWorkerError: (error) => {
        this.#stacksAvailable = false;
        // No 'mapped' message will come: the blocks waiting for one go out as they are.
        this.#assembler.watchdogGone();
        this.#markReady();
        this.#sayStacksUnavailable(`the watchdog thread failed: ${error.message}`);
      },
    });
    this.#syncCalls = this.#wrapBuiltins(options);
    this.#heartbeat.restart();
    // Prepended: the block of the last tick is counted before any other 'exit' listener reads
    // the figures, and measured without their time. A listener changes nothing about how the
    // process ends (it is no signal listener, and flushAtExit never throws).
    process.prependListener('exit', this.#onExit);
  }

  get stacksAvailable(): boolean {
    return this.#stacksAvailable;
  }

  on(event: 'block', listener: BlockListener): this {
    return this.#add(event, listener, false);
  }

  once(event: 'block', listener: BlockListener): this {
    return this.#add(event, listener, true);
  }

  off(event: 'block', listener: BlockListener): this {
    checkOneOf('event', event, ['block'] as const);
    const index = this.#listeners.findIndex((entry) => entry.listener === listener);
    if (index !== -1) this.#listeners.splice(index, 1);
    return this;
  }

  stats(): LoopStats {
    return {
      delay: this.#delay.delay(),
      utilization: this.#delay.utilization(),
      blocks: this.#aggregates.blocks(),
      routes: this.#aggregates.routes(),
      startup: this.#aggregates.startup(),
      host: this.#aggregates.host(),
      own: this.#aggregates.own(),
      since: this.#delay.since,
      ...(this.#libuv === undefined ? {} : { libuv: this.#libuv.stats() }),
    };
  }

  topBlockers(limit = 10): BlockerSummary[] {
    return this.#aggregates.top(checkNumber('limit', limit, { min: 0, integer: true, infinity: true }));
  }

  timeline(): TimelinePoint[] {
    return this.#delay.timeline();
  }

  warn(fields: object, message: string): void {
    this.#reporter.warn(fields, message);
  }

  report(reported: BlockEvent): void {
    if (this.#stopped) return;
    // Sync-call events carry frames parsed from an Error stack, mapped here (named here, not
    // where they are built: sync-calls/policy.ts) once their maps are read and decoded, a few
    // ms a turn: never a large map's decode in one stretch on the loop being watched.
    if (reported.kind === 'sync-call' && this.#options.sourceMaps) {
      const loading = preloadMaps(reported.stack.map((frame) => frame.file));
      if (loading === undefined && this.#syncCallsMapping.length === 0) {
        this.#accept(named({ ...reported, stack: mapFileFrames(reported.stack) }));
        return;
      }
      // In the order they were made: one waits for the maps of those before it too. Chained
      // outside the call's request or task: a promise's reactions run in the context they were
      // made in, where loopguard's own sync calls (frames.ts reads its package.json once) would
      // be policed as the app's.
      this.#syncCallsMapping.push(reported);
      this.#outsideContexts.runInAsyncScope(() => {
        const chain = (this.#syncCallsMapped ?? Promise.resolve())
          .then(() => loading)
          .then(() => this.#deliverSyncCall(true))
          .finally(() => {
            if (this.#syncCallsMapped === chain) this.#syncCallsMapped = undefined;
          });
        this.#syncCallsMapped = chain;
      });
      return;
    }
    this.#accept(reported.kind === 'sync-call' ? named({ ...reported }) : reported);
  }

  /**
   * The oldest sync-call event waiting for its maps; `load` false at exit or stop, where it goes
   * out at once, mapped through the maps in hand only (the others' as they ran).
   */
  #deliverSyncCall(load: boolean): void {
    const event = this.#syncCallsMapping.shift();
    if (event === undefined) return;
    try {
      this.#accept(named({ ...event, stack: mapFileFrames(event.stack, load) }));
    } catch (error) {
      // As from the turn it would have run in: a listener's error is the app's to see.
      setImmediate(() => {
        throw error;
      });
    }
  }

  #flushSyncCalls(): void {
    while (this.#syncCallsMapping.length > 0) this.#deliverSyncCall(false);
  }

  /** Settle an event's phase (start-up or not), then deliver it. */
  #accept(event: BlockEvent): void {
    if (this.#stopped) return;
    // Without a stack the frames cannot say whether modules were loading: a block that started
    // before the loop first went idle is then start-up. With one, the frames decide (frames.ts):
    // the entry module's own top-level code (a script's whole work) is not start-up.
    if (
      event.phase === undefined &&
      event.stack.length === 0 &&
      this.#idleSince !== undefined &&
      event.startedAt >= this.#startedAt &&
      event.startedAt < this.#idleSince
    ) {
      event.phase = 'startup';
    }
    // Held until the first listen tells whether it was start-up (or a wait runs out).
    if (this.#listenStartup?.judge(event) === true) return;
    this.#deliver(event);
  }

  judgeStartupByListen(): void {
    if (this.#stopped) return;
    this.#listenStartup ??= new ListenStartup((event) => this.#deliver(event), this.#startedAt);
  }

  /** Count, emit and log an event whose phase is settled. */
  #deliver(event: BlockEvent): void {
    if (this.#ignores(event)) return;
    this.#aggregates.add(event);
    this.#emit(event);
    // After the listeners, and guarded: whatever the log does (a logger that throws, a bug in
    // formatting a hostile value), the event has already been counted and delivered.
    try {
      this.#reporter.block(event);
    } catch {
      // the line is lost; the event is not
    }
  }

  /**
   * onBlock first, then the listeners in the order they were added. A listener that throws
   * behaves as in an EventEmitter whose emit runs from a timer: its error becomes the process's
   * uncaught exception (on the next tick, so the other listeners and our state are not cut short).
   */
  #emit(event: BlockEvent): void {
    const listeners = this.#options.onBlock === undefined ? [] : [this.#options.onBlock];
    for (const entry of this.#listeners.slice()) {
      listeners.push(entry.listener);
      if (entry.once) this.off('block', entry.listener);
    }
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        // A listener's bug surfaces as the user's own uncaught error, outside our state updates.
        process.nextTick(() => {
          throw error;
        });
      }
    }
  }

  /**
   * A block in the tick the process exits from (a script's last statement, `busy();
   * process.exit(7)`) has no next heartbeat to measure it, and stalls waiting for a capture or
   * for their GC entries have no next turn of the loop: report them all now, synchronously.
   * Once per process; register calls it before it reads the figures.
   */
  flushAtExit(): void {
    if (this.#stopped || this.#flushedAtExit) return;
    this.#flushedAtExit = true;
    this.#flushSyncCalls();
    try {
      const { open, captures, hangs } = this.#heartbeat.atExit(this.#assembler.awaitingCapture());
      if (open !== undefined) this.#delay.recordBlock(open.duration);
      this.#assembler.flushAtExit(open, captures, hangs);
    } catch {
      // An error thrown from an 'exit' listener would change the exit code: the block is lost instead.
    }
    try {
      // The process ends without having listened (or before it could): held blocks go out as they are.
      this.#listenStartup?.flush();
    } catch {
      // as above
    }
  }

  everySecond(listener: () => void): () => void {
    return listen(this.#everySecond, listener);
  }

  eachLateness(listener: (ms: number) => void): () => void {
    return listen(this.#lateness, listener);
  }

  libuvStats(): LibuvStats | undefined {
    return this.#libuv?.stats();
  }

  settled(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise<void>((resolve) => this.#nextBeat.push(resolve))
      .then(() => this.#assembler.settled())
      .then(() => this.#syncCallsMapped);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    // Delivered, not dropped: they happened while the monitor ran.
    this.#flushSyncCalls();
    this.#assembler.flushPending();
    // Before anything is torn down: held blocks still reach the listeners and the figures.
    this.#listenStartup?.close();
    this.#stopped = true;
    process.off('exit', this.#onExit);
    if (getGlobal('monitor') === this) setGlobal('monitor', undefined);
    this.#syncCalls.uninstall();
    this.#closeRequestContexts();
    this.#delay.stop();
    this.#libuv?.stop();
    this.#assembler.stop();
    this.#listeners.length = 0;
    const waiting = this.#nextBeat;
    this.#nextBeat = [];
    for (const resolve of waiting) resolve();
    this.#markReady();
    await this.#heartbeat.stop();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /**
   * The wrapped built-ins tell the watchdog which native call runs (nativeCalls) and apply the
   * syncCalls policy. With nativeCalls: false (which options refuse beside a policy) nothing is
   * wrapped, not even for a moment.
   */
  #wrapBuiltins(options: ResolvedMonitorOptions): SyncCallsHandle {
    if (!options.nativeCalls) return { uninstall() {} };
    return installSyncCalls({
      policy: options.syncCalls,
      hooks: {
        onEnter: (call) => {
          this.#assembler.nativeEnter(call);
          this.#heartbeat.setNativeCall(NATIVE_INDEX.get(call) ?? 0);
        },
        onExit: (call) => {
          this.#assembler.nativeExit(call);
          this.#heartbeat.setNativeCall(0);
        },
      },
      report: (event) => this.report(event),
      ...(options.ignore === undefined ? {} : { ignore: options.ignore }),
      threshold: options.threshold,
    });
  }

  #add(event: 'block', listener: BlockListener, once: boolean): this {
    checkOneOf('event', event, ['block'] as const);
    checkFunction('listener', listener);
    this.#listeners.push({ listener, once });
    return this;
  }

  #onMessage(message: WatchdogMessage): void {
    switch (message.type) {
      case 'ready':
        this.#markReady();
        break;
      case 'unavailable':
        this.#stacksAvailable = false;
        this.#sayStacksUnavailable(message.reason);
        break;
      case 'capture':
        this.#assembler.onCapture(message);
        break;
      case 'hang':
        this.#assembler.onHang(message.seq);
        break;
      case 'restack':
        this.#assembler.onRestack(message);
        break;
      case 'mapped':
        this.#assembler.onMapped(message);
        break;
    }
  }

  #ignores(event: BlockEvent): boolean {
    try {
      return isIgnored(this.#options.ignore, event);
    } catch {
      // A throwing ignore predicate leaves the event in: a bug there must not hide blocks.
      return false;
    }
  }

  #sayStacksUnavailable(reason: string): void {
    // Once per process, not once per monitor: a restarted monitor has nothing new to say.
    const said = ensureGlobal('stacksUnavailableSaid', () => ({ said: false }));
    if (said.said) return;
    said.said = true;
    this.#reporter.warn({ reason }, 'stack capture is unavailable here; blocks are reported without stacks');
  }
}

/** Start the event-loop monitor, or return the one already running in this process. */
export function startMonitor(options?: MonitorOptions): Monitor {
  const resolved = resolveMonitorOptions(options);
  return ensureGlobal('monitor', () => new LoopMonitor(resolved)) as InternalMonitor;
}

/** The running monitor with its internal members, if any (for the pool, testing, reports). */
export function runningMonitor(): InternalMonitor | undefined {
  return getGlobal('monitor') as InternalMonitor | undefined;
}
