/**
 * The watchdog thread: watches the main thread's heartbeat, captures the stack of a block
 * while it is under way, and reports a hang itself (the main thread cannot: it is stuck).
 * Imports nothing from the main-side modules, only the protocol.
 */
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { describeStack, formatFrame, labelOf, routeOf, visibleFrames } from '../../shared/frames.js';
import { displayFile } from '../../shared/paths.js';
import { preloadMaps, toStackFrame } from '../../shared/sourcemaps.js';
import { StackTrail, framesOfStackText, mapCapture } from '../../shared/stack-trail.js';
import { escapeTerminal, jsonLine } from '../../shared/terminal-text.js';
import { StackCapturer, type Capture, type QuickCapture } from './capture.js';
import { MainThreadWatch, stackTakenLate } from './judge.js';
import { MainLoopIdle } from './loop-idle.js';
import { CliStream } from './to-cli.js';
import { NATIVE_CALLS, Slot, State, type WatchdogData, type WatchdogMessage } from '../protocol.js';
import type { StackFrame } from '../../types.js';

const data = workerData as WatchdogData;
const shared = new Int32Array(data.buffer);
const port = parentPort;
const capturer = new StackCapturer({
  open() {
    Atomics.store(shared, Slot.SESSION, 1);
    if (Atomics.load(shared, Slot.STATE) === State.RUNNING) return true;
    Atomics.store(shared, Slot.SESSION, 0);
    return false;
  },
  closed() {
    Atomics.store(shared, Slot.SESSION, 0);
  },
});

let lastBeat = Atomics.load(shared, Slot.HEARTBEAT);
let capturedSeq: number | undefined;
let capturing = false;
let lastCapture: { seq: number; capture: Capture } | undefined;
let hangWrittenAt: number | undefined;
/** The block during which another debugger was found holding the thread: no hang report for it. */
let foreignPauseSeq: number | undefined;
let stopped = false;
let unavailableSent = false;
const toCli = new CliStream(shared);
const watch = new MainThreadWatch(data.buffer, data.threshold);
const loopIdle = new MainLoopIdle(data.loopFds);
/**
 * The last look that saw the main thread asleep in its loop's poll (loop-idle.ts) while the beat
 * `idleFor` was the latest: main-clock ms. A block under way began after it.
 */
let idleAt = 0;
let idleFor: number | undefined;
/** Looks left for finding the main loop's descriptor (it is polled at almost every look of an idle start). */
let findLooks = 100;
/** The stacks seen during the block at `seq`, for the hang report. */
let trail: { seq: number; stacks: StackTrail; context: Record<string, unknown> | undefined } | undefined;
/** ms of staleness at which the stack is taken again (a long block may have moved on). */
let nextRestack = Infinity;
let restacking = false;
/** At most this long between two stacks of one long block (the first few come sooner). */
const RESTACK_EVERY = 1_000;
/**
 * The latest captures by heartbeat value, the quick stack kept as soon as it came, and the
 * blocks a hang was reported for: stop() posts them on the exit port, for a block the main
 * thread can only report from its 'exit' handler (its loop will not run again to take them).
 */
const foundFor = new Map<number, WatchdogMessage>();
const hungSeqs = new Set<number>();
const KEPT_FOR_EXIT = 4;

function keepForExit(seq: number, message: WatchdogMessage): void {
  foundFor.delete(seq);
  foundFor.set(seq, message);
  while (foundFor.size > KEPT_FOR_EXIT) foundFor.delete(foundFor.keys().next().value as number);
}

function send(message: WatchdogMessage): void {
  port?.postMessage(message);
}

/**
 * Mapping stacks through source maps is done here, not on the main thread (a large map takes a
 * quarter of a second and more to decode, a block of loopguard's own there), one stack after
 * another, its maps decoded a few ms a turn so that this thread still looks at the heartbeat
 * meanwhile (sourcemaps.ts preloadMaps). One queue: a block's restacks are posted in the order
 * they were taken, and its 'mapped' message after them.
 */
let mappingQueue: Promise<unknown> = Promise.resolve();

function mapInTurn<T>(work: () => Promise<T>): Promise<T> {
  const result = mappingQueue.then(work);
  mappingQueue = result.catch(() => undefined);
  track(result.then(() => undefined, () => undefined));
  return result;
}

/** The block whose capture is being mapped: its 'mapped' goes out once it has ended (look()). */
let mappingFor: { seq: number; stack: Promise<StackFrame[] | undefined> } | undefined;

function postMappedOnceEnded(): void {
  if (mappingFor === undefined || (Atomics.load(shared, Slot.HEARTBEAT) === mappingFor.seq && !stopped)) return;
  const { seq, stack } = mappingFor;
  mappingFor = undefined;
  // Queued behind the restacks taken while the block lasted: the main thread has them all once this comes.
  void mapInTurn(async () => {
    send({ type: 'mapped', seq, stack: (await stack) ?? null });
  });
}

/** The main thread's performance.now(), read here (both clocks are the process's monotonic clock). */
function mainNow(): number {
  return performance.timeOrigin + performance.now() - data.timeOrigin;
}

/** ms since the main thread's last heartbeat (Slot.BEAT_AT wraps at 32 bits; so does the difference). */
function staleAt(now: number): number {
  return ((Math.floor(now) | 0) - Atomics.load(shared, Slot.BEAT_AT)) | 0;
}

/**
 * A block began at most one beat interval after the last beat: once it is stale by the threshold
 * plus that, the block has lasted more than the threshold whenever it began, and the main thread
 * will count it.
 */
function msUntilSure(now: number): number {
  // From the beat, not from idleAt: a block may begin any time after the loop was last seen idle,
  // up to the beat's interval after the beat (when the idle loop would have beaten).
  return data.threshold + Atomics.load(shared, Slot.INTERVAL) - staleAt(now);
}

/**
 * ms the main thread has gone without being seen free: since its last beat, or since the loop was
 * last seen idle in its poll after it, whichever is later.
 */
function sinceFree(now: number, beat: number): number {
  const stale = staleAt(now);
  return idleFor === beat ? Math.min(stale, Math.floor(now - idleAt)) : stale;
}

/**
 * With the beat a threshold old (or until the loop's descriptor is found), ask /proc whether the
 * main thread sits in its loop's poll: then nothing blocks it, and the beat is merely slow (an
 * idle loop beats at the watched interval, heartbeat.ts). Not once a stack was taken for this
 * beat: that block's capture and restacks go on as they did.
 */
function watchIdle(beat: number, now: number): void {
  if (!loopIdle.available) return;
  if (loopIdle.found && (capturing || capturedSeq === beat || sinceFree(now, beat) <= data.threshold)) return;
  if (lookIdle() !== true) return;
  idleAt = now;
  idleFor = beat;
  // What the process stood still for before now is behind the loop's idle moment: not the block's.
  excusedFor = undefined;
  excused = 0;
  watch.forget();
}

/**
 * One look at /proc, kept in Slot.IDLE_WATCH: whether the main thread sits in its loop's poll,
 * undefined when it cannot tell (/proc failed: the main thread beats at its unwatched slow
 * interval again from its next beat) or has no look left for finding the loop's descriptor.
 * Also made at a look that found a new beat while the descriptor is not found yet (look()):
 * watchIdle() looks only at a beat that did not move, and a loop busy from its start (an app
 * loading its modules under the CLI, a service taking traffic at once) beats every fast
 * interval, then every unwatched slow one (0.9 threshold), so the beat had always moved by the
 * next look, the descriptor was never found and the idle loop never slowed to the watched beat.
 */
function lookIdle(): boolean | undefined {
  if (!loopIdle.found) {
    if (findLooks <= 0) return undefined;
    findLooks -= 1;
  }
  const idle = loopIdle.check();
  if (idle === undefined) {
    Atomics.store(shared, Slot.IDLE_WATCH, 0);
    return undefined;
  }
  if (loopIdle.found && Atomics.load(shared, Slot.IDLE_WATCH) !== 1) Atomics.store(shared, Slot.IDLE_WATCH, 1);
  return idle;
}

function stillBlocked(seq: number): () => boolean {
  return () => Atomics.load(shared, Slot.HEARTBEAT) === seq && Atomics.load(shared, Slot.STATE) === State.RUNNING;
}

/** The inspector refused (a debugger already attached, a build without it): say so once. */
function inspectorUnavailable(error: unknown): void {
  if (unavailableSent) return;
  unavailableSent = true;
  send({ type: 'unavailable', reason: error instanceof Error ? error.message : String(error) });
}

async function capture(seq: number): Promise<Capture | undefined> {
  capturing = true;
  Atomics.store(shared, Slot.CAPTURING, seq);
  Atomics.add(shared, Slot.DEBUGGER_ENABLES, 1);
  try {
    const result = await capturer.capture(stillBlocked(seq), data.http, Atomics.load(shared, Slot.NATIVE_CALL) !== 0);
    pausedAtBeat = Atomics.load(shared, Slot.HEARTBEAT);
    if (result.foreignPause === true) foreignPauseSeq = seq;
    if (result.stillBlocked && result.frames.length > 0) lastCapture = { seq, capture: result };
    return result;
  } catch (error) {
    inspectorUnavailable(error);
    return undefined;
  } finally {
    capturing = false;
  }
}

async function onStall(seq: number): Promise<void> {
  capturedSeq = seq;
  capturing = true;
  Atomics.store(shared, Slot.CAPTURING, seq);
  // The stack is taken as soon as the beat is a threshold old, so it is in hand within the
  // threshold of the block's start even when the block began a slow beat after the last one.
  // It costs the main thread ~1 ms (an interrupt, no debugger), and it already names the
  // request when an adapter runs the handler in a named frame (shared/route-frames.ts, after
  // any await chain) or withContext/guard set a context: then nothing more is done (issue 8).
  // Otherwise, with `http: true`, the request is read from the paused frames' scopes (the
  // request walk): that enables the debugger, which costs the main thread 25–100 ms and more
  // (hundreds on a large heap), so it waits until the block is sure to count (msUntilSure):
  // a shorter one is never made long enough to be reported by our own enable.
  // Inside a wrapped native call the stack can be taken only once the call returns to
  // JavaScript, and the block may end right there: a walk sent after the stack's reply would
  // pause in whatever runs next. There, when the block is already sure to count, the enable and
  // the pause go out right behind the evaluate, and the main thread handles all three in one
  // run of interrupts, as soon as it is back in JavaScript (the walk is then made whatever the
  // stack says).
  const burst = data.http && Atomics.load(shared, Slot.NATIVE_CALL) !== 0 && msUntilSure(mainNow()) < 0;
  const before = watch.sample();
  let late = false;
  const [quick, early] = await Promise.all([
    capturer
      .quickStack(seq, stillBlocked(seq))
      .then((quick) => {
        // Sampled as the reply comes, not after the request walk: the wait for a CPU that
        // excuses a late stack is the wait while the stack was asked for.
        if (quick !== undefined) late = stackTakenLate(quick.sentAt, quick.ranAt, before, watch.sample(), data.threshold);
        // The request walk may still be under way when the block ends and the process exits.
        if (quick?.stillBlocked === true) {
          keepForExit(seq, {
            type: 'capture',
            seq,
            stackText: quick.stackText,
            frames: [],
            scripts: {},
            context: quick.context,
            ownMs: 0,
            stackLate: late,
            stackAt: quick.ranAt,
            mapping: data.sourceMaps,
          });
        }
        return quick;
      })
      .catch((error: unknown) => {
        inspectorUnavailable(error);
        return undefined;
      }),
    burst ? capture(seq) : undefined,
  ]);
  const paused = burst ? early : data.http && mustWalk(quick) ? await walkOnceSure(seq, () => stillUnnamed(seq)) : undefined;
  capturing = false;
  releaseSession();
  const stack = quick?.stillBlocked === true ? quick : undefined;
  const frames = paused?.stillBlocked === true ? paused : undefined;
  const found = {
    stackText: stack?.stackText ?? '',
    frames: frames?.frames ?? [],
    scripts: frames?.scripts ?? {},
    context: stack?.context ?? frames?.context,
    ownMs: ownTime(quick, paused),
    stackLate: late,
    stackAt: quick?.ranAt,
  };
  const blockTrail = { seq, stacks: new StackTrail(), context: found.context };
  trail = blockTrail;
  const mapping = data.sourceMaps && (stack !== undefined || frames !== undefined);
  if (stack !== undefined && !data.sourceMaps) blockTrail.stacks.add(stack.ranAt ?? Date.now(), framesOfStackText(stack.stackText, false) ?? [], late);
  nextRestack = restackAfter(sinceFree(mainNow(), seq));
  const message: WatchdogMessage = { type: 'capture', seq, ...found, mapping };
  if (stack !== undefined || frames !== undefined) keepForExit(seq, message);
  // Unmapped first, at once: the main thread knows the block's capture (and its request) now,
  // and waits for the mapped stack only where it needs it.
  send(message);
  toCli.stack(seq, false, found);
  if (!mapping) return;
  const mapped = mapInTurn(() => mapCapture(found)).catch(() => undefined);
  mappingFor = { seq, stack: mapped };
  postMappedOnceEnded();
  const result = await mapped;
  // The hang report's trail, and the copy the main thread reads at exit, mapped.
  if (stack !== undefined && result !== undefined) blockTrail.stacks.add(stack.ranAt ?? Date.now(), result, late);
  if (foundFor.has(seq)) keepForExit(seq, { ...message, mapped: result ?? null });
}

/**
 * A later stack of the block at `seq`, posted (with the hang report's trail) once mapped, in
 * turn with the others: the main thread then has its frames as they read in the source.
 */
function postRestack(seq: number, at: number, stackText: string, stackLate: boolean): void {
  if (!data.sourceMaps) {
    if (trail?.seq === seq) trail.stacks.add(at, framesOfStackText(stackText, false) ?? [], stackLate);
    send({ type: 'restack', seq, at, stackText, stackLate });
    return;
  }
  void mapInTurn(async () => {
    const stack = await mapCapture({ stackText, frames: [], scripts: {} }).catch(() => undefined);
    if (trail?.seq === seq) trail.stacks.add(at, stack ?? [], stackLate);
    send({ type: 'restack', seq, at, stackText, stackLate, stack: stack ?? null });
  });
}

/**
 * The request walk adds something only when the quick stack neither named a route (an adapter's
 * frame) nor carried a context (withContext/guard: it would win over the walk's request anyway),
 * and the block is still under way.
 */
function mustWalk(quick: QuickCapture | undefined): boolean {
  return quick?.stillBlocked === true && !quick.routed && quick.context === undefined;
}

/**
 * Before a walk that waited for the block to be sure: a stall seen before the handler ran (the
 * host held the process, a middleware parsed a body) is often in the handler by now, whose frame
 * names the route. A fresh quick stack (~1 ms) says so; it is posted as a later stack of the
 * block, which is what the main thread reads the route from. True when the walk is still needed.
 */
async function stillUnnamed(seq: number): Promise<boolean> {
  try {
    const fresh = await capturer.quickStack(seq, stillBlocked(seq));
    if (fresh === undefined || !fresh.stillBlocked) return false;
    if (mustWalk(fresh)) return true;
    postRestack(seq, fresh.ranAt ?? Date.now(), fresh.stackText, false);
    return false;
  } catch {
    return true;
  }
}

/**
 * The request walk, once the block is sure to count; undefined when it ended before, or when
 * `recheck` (asked only after a wait) finds the walk no longer needed.
 */
async function walkOnceSure(seq: number, recheck?: () => Promise<boolean>): Promise<Capture | undefined> {
  const blocked = stillBlocked(seq);
  let waited = false;
  for (;;) {
    if (stopped || !blocked()) return undefined;
    const wait = msUntilSure(mainNow());
    if (wait < 0) return waited && recheck !== undefined && !(await recheck()) ? undefined : capture(seq);
    waited = true;
    await new Promise((resolve) => setTimeout(resolve, Math.min(wait + 1, data.pollInterval)));
  }
}

/** The staleness at which to take the next stack: doubling from the threshold, then every RESTACK_EVERY. */
function restackAfter(stale: number): number {
  return stale + Math.min(Math.max(data.threshold, stale), RESTACK_EVERY);
}

/**
 * Take the stack again during a long block: the quick stack only (no debugger, no pause), so
 * it interrupts the main thread as briefly as the first (~1–2 ms), a few times a second at most.
 */
async function onRestack(seq: number): Promise<void> {
  restacking = true;
  try {
    const before = watch.sample();
    const quick = await capturer.quickStack(seq, stillBlocked(seq));
    if (quick === undefined || !quick.stillBlocked || quick.stackText === '') return;
    const late = stackTakenLate(quick.sentAt, quick.ranAt, before, watch.sample(), data.threshold);
    postRestack(seq, quick.ranAt ?? Date.now(), quick.stackText, late);
    // The CLI keeps the latest stack of a block, for when the app dies before it ends.
    toCli.stack(seq, false, { stackText: quick.stackText, frames: [], scripts: {}, context: trail?.seq === seq ? trail.context : undefined });
  } catch {
    // The session went away (stopping): the first stack stands.
  } finally {
    restacking = false;
    nextRestack = restackAfter(sinceFree(mainNow(), seq));
    releaseSession();
  }
}

/**
 * The session is dropped only once the main thread runs again (the heartbeat moved): it may be
 * held in another debugger's pause, where dropping a session can abort the process (see
 * StackCapturer.disconnect). Until then it stays connected, which costs a blocked thread nothing.
 */
let releaseWhenBeatMoves = false;
/**
 * The heartbeat right after a capture that paused the main thread: a pause that landed after
 * the block (the beat had already moved) is resumed from inside the main thread's pause loop,
 * and a removal of the session handled there too aborts the process (SIGABRT in
 * MainThreadInterface::Post, seen 3 times in ~70 runs of a fixture whose main thread stalls
 * just past the threshold). The session is dropped only once the beat moves past this one:
 * the main thread has left that loop by then.
 */
let pausedAtBeat: number | undefined;

/**
 * `beatMoved`: called from look() on a beat it has just seen move, and already stored as
 * lastBeat: comparing with lastBeat there would always find the beat unmoved, and the session
 * stayed connected after every capture until a look happened to race a beat (seconds later), so
 * an app that exited meanwhile could exit with it connected ("Waiting for the debugger to
 * disconnect...").
 */
function releaseSession(beatMoved = false): void {
  if (capturing || restacking) return;
  const beat = Atomics.load(shared, Slot.HEARTBEAT);
  if (!beatMoved && (beat === lastBeat || beat === pausedAtBeat) && Atomics.load(shared, Slot.STATE) === State.RUNNING) {
    releaseWhenBeatMoves = true;
  } else {
    releaseWhenBeatMoves = false;
    capturer.disconnect();
  }
}

/**
 * The main thread's time that went to the capture: from the enable's request (or the quick
 * stack, run on the main thread right before the enable when both went out in one burst) to
 * the enable's reply, plus our pause. No walk, no time of ours beyond the quick stack's ~1 ms.
 */
function ownTime(quick: QuickCapture | undefined, paused: Capture | undefined): number {
  if (paused === undefined) return 0;
  const from = Math.max(quick?.ranAt ?? 0, paused.enableSentAt ?? 0);
  const enabling = from > 0 && paused.enabledAt !== undefined ? Math.max(0, paused.enabledAt - from) : 0;
  return Math.round(enabling + (paused.pausedMs ?? 0));
}

async function onHang(seq: number, elapsed: number): Promise<void> {
  hangWrittenAt = mainNow();
  // Someone is sitting in a debugger: that is no hang of the app's, and it is not ours to
  // report (nor to pause again every hangTimeout).
  if (foreignPauseSeq === seq) return;
  // A fresh stack: an endless loop may have moved on from where the block started. The stack
  // text first, so the stacks the report lists include where it is now.
  if (!restacking && capturedSeq === seq && !capturing) await onRestack(seq);
  const fresh = capturing || restacking ? undefined : await capture(seq);
  if (fresh !== undefined) releaseSession();
  if (stopped || !stillBlocked(seq)() || foreignPauseSeq === seq) return;
  const best = fresh?.stillBlocked === true && fresh.frames.length > 0 ? fresh : lastCapture?.seq === seq ? lastCapture.capture : undefined;
  // The paused frames' maps, decoded a few ms a turn before writeHang maps them (in one go).
  if (data.sourceMaps && best !== undefined) {
    const scripts = best.frames.flatMap((frame) => best.scripts[frame.scriptId] ?? []);
    await mapInTurn(() => preloadMaps([], scripts) ?? Promise.resolve());
    if (stopped || !stillBlocked(seq)()) return;
  }
  // The context the quick stack read when the block began (a withContext store, a request
  // context): a block whose request was known then was never walked, so there is no earlier
  // capture of it, and the store read in this pause came back empty on the hang of a
  // withContext job (test/monitor/hang-escape.test.ts).
  const known = trail?.seq === seq ? trail.context : undefined;
  writeHang(elapsed, fresh === best ? best : undefined, best, trail?.seq === seq ? trail.stacks : undefined, best?.context ?? known);
  hungSeqs.add(seq);
  while (hungSeqs.size > KEPT_FOR_EXIT) hungSeqs.delete(hungSeqs.values().next().value as number);
  send({ type: 'hang', seq, elapsed });
  if (best !== undefined) toCli.stack(seq, true, { stackText: '', frames: best.frames, scripts: best.scripts, context: best.context ?? known });
}

function nativeCall(): string | undefined {
  const index = Atomics.load(shared, Slot.NATIVE_CALL);
  return index === 0 ? undefined : NATIVE_CALLS[index - 1];
}

function mappedFrames(found: Capture): StackFrame[] {
  return found.frames.map((frame) => toStackFrame(frame, found.scripts[frame.scriptId], data.sourceMaps));
}

function shown(stack: readonly StackFrame[]): StackFrame[] {
  return stack.map((frame) => ({ ...frame, file: displayFile(frame.file, data.cwd) }));
}

/**
 * The report shows the latest stack the watchdog has of the block (a long block moves on): the
 * paused frames just taken, else the latest stack text; and the distinct stacks it went through
 * when there were several. Those come from the stack texts only: the paused frames name some
 * functions differently (`<anonymous>` for `Timeout._onTimeout`), which would count the same
 * stack twice.
 */
function writeHang(
  elapsed: number,
  fresh: Capture | undefined,
  found: Capture | undefined,
  stacks: StackTrail | undefined,
  context: Record<string, unknown> | undefined,
): void {
  if (data.hangFormat === 'none') return;
  const call = nativeCall();
  const latest = fresh === undefined ? (stacks?.latest?.stack ?? (found === undefined ? undefined : mappedFrames(found))) : mappedFrames(fresh);
  const frames = shown(latest ?? []);
  const earlier = stacks !== undefined && stacks.stacks().length > 1 ? stacks.stacks().map(shown) : undefined;
  const named = describeStack(frames, call);
  let text: string;
  if (data.hangFormat === 'json') {
    const record = {
      level: 'error',
      msg: 'event loop hang',
      pid: process.pid,
      time: Date.now(),
      kind: 'hang',
      duration: Math.round(elapsed),
      threshold: data.threshold,
      stack: frames,
      site: named.site,
      ...(named.library === undefined ? {} : { library: named.library }),
      ...(context === undefined ? {} : { context }),
      ...(call === undefined ? {} : { call }),
      ...(earlier === undefined ? {} : { stacks: earlier, stacksSeenAt: stacks?.seenAt() }),
    };
    text = `${jsonLine(record)}\n`;
  } else {
    const where = context === undefined ? '' : ` in ${routeOf(context) ?? JSON.stringify(context)}`;
    const inside = call === undefined ? '' : ` inside ${call}`;
    // As the main thread's log names a block: the library that ran, via the app's own function.
    const at = named.library === undefined ? '' : ` at ${labelOf(named.site, named.library, named.entry)}`;
    const lines = [
      `loopguard: event loop hung: blocked for ${Math.round(elapsed)} ms and still blocked${inside}${at}${where} (pid ${process.pid})`,
      // Shown as the main thread's block warnings show them (shared/frames.ts).
      ...visibleFrames(frames).slice(0, 10).map((frame) => `    at ${formatFrame(frame)}`),
    ];
    if (frames.length === 0) lines.push('    (stack not captured)');
    if (earlier !== undefined) {
      const where = earlier.map((stack) => labelOf(describeStack(stack).site, undefined, undefined));
      lines.push(`  it went through: ${where.join(' → ')}`);
    }
    // Paths, routes, function names and context values are the app's and its clients': no
    // control or bidi character of theirs reaches the terminal raw.
    text = `${lines.map(escapeTerminal).join('\n')}\n`;
  }
  try {
    // fd 2 directly: process.stderr belongs to the main thread, which is stuck.
    writeSync(2, text);
  } catch {
    // stderr closed: nothing else to do
  }
}

/** Async work under way (a capture, a hang report): the thread's own loop must run meanwhile. */
let inFlight = 0;

function track(work: Promise<void>): void {
  inFlight += 1;
  void work.finally(() => {
    inFlight -= 1;
  });
}

/** One look at the heartbeat; returns the ms until the next one is due, or undefined once stopped. */
function look(): number | undefined {
  if (stopped) return undefined;
  if (Atomics.load(shared, Slot.STATE) !== State.RUNNING) {
    stop();
    return undefined;
  }
  const beat = Atomics.load(shared, Slot.HEARTBEAT);
  const now = mainNow();
  if (beat === lastBeat) watchIdle(beat, now);
  else if (loopIdle.available && !loopIdle.found) lookIdle();
  // A look far late means this thread did not run either (the process was stopped or starved):
  // that time is not the app's, and the block is not judged on it here (judge.ts, cause.ts).
  const selfLate = watch.look(performance.now(), beat, beat === lastBeat ? sinceFree(now, beat) : 0, plannedSleep);
  if (beat !== lastBeat) {
    lastBeat = beat;
    hangWrittenAt = undefined;
    postMappedOnceEnded();
    if (releaseWhenBeatMoves) releaseSession(true);
    toCli.beat();
  }
  if (selfLate > 0) {
    // Not counted against the block: the beat's age less the time the whole process stood still.
    excused = (excusedFor === beat ? excused : 0) + selfLate;
    excusedFor = beat;
    return remember(data.pollInterval);
  }
  const stale = sinceFree(now, beat) - (excusedFor === beat ? excused : 0);
  if (stale > data.threshold) {
    // The CLI counts what it is told even if the app dies now: only a block sure to count.
    if (msUntilSure(now) < 0) toCli.stall(beat, stale, nativeCall());
    if (capturedSeq !== beat && !capturing) track(onStall(beat));
    else if (capturedSeq === beat && !capturing && !restacking && stale >= nextRestack) track(onRestack(beat));
  }
  if (
    data.hangTimeout > 0 &&
    stale >= data.hangTimeout &&
    (hangWrittenAt === undefined || now - hangWrittenAt >= data.hangTimeout)
  ) {
    track(onHang(beat, stale));
  }
  // A block under way: look often, to see it end (the session is dropped then) and to be sure
  // of it. Otherwise nothing can happen before this beat is a threshold old: sleep until then
  // (the main thread beats again meanwhile, and the next look starts from that beat).
  if (stale > data.threshold) return remember(data.pollInterval);
  return remember(Math.max(1, data.threshold - stale + LOOK_MARGIN));
}

/** The sleep the last look planned (judge.ts must know it, or a long idle sleep reads as a gap). */
let plannedSleep = data.pollInterval;
/** ms of the block at `excusedFor` during which the whole process stood still (judge.ts). */
let excused = 0;
let excusedFor: number | undefined;

function remember(sleep: number): number {
  plannedSleep = sleep;
  return sleep;
}

/**
 * ms past the moment a beat turns a threshold old that the look waits: room for the main
 * thread's next beat (due 0.9 threshold after the last one on an idle loop, heartbeat.ts) to
 * run late before this look takes it for a block (16 ms at the default: a beat later than that
 * costs a quick stack that is dropped), and bounded by the stack's latency: in hand at most
 * threshold + this (+ ~2 ms for the evaluate) after a block began. 6 ms at the default.
 */
const LOOK_MARGIN = Math.max(3, Math.min(6, Math.floor(data.threshold / 16)));
/** ms the thread may stay in its synchronous wait before it lets its own loop run (V8's tasks). */
const LOOP_EVERY = 1000;
let timer: NodeJS.Timeout | undefined;

/**
 * The watchdog's loop. While nothing async is under way it sleeps in Atomics.wait, on the STATE
 * slot the main thread notifies when it stops: one futex wake per look, cheaper than a timer of
 * its own loop (~0.08 against ~0.12 ms of CPU per wake-up measured here, BENCHMARKS.md). A
 * capture needs the loop (the inspector's replies arrive through it): then it looks from a timer.
 */
function run(): void {
  timer = undefined;
  const enteredAt = performance.now();
  let next = look();
  while (next !== undefined && inFlight === 0 && performance.now() - enteredAt < LOOP_EVERY) {
    Atomics.wait(shared, Slot.STATE, State.RUNNING, next);
    next = look();
  }
  if (next !== undefined) timer = setTimeout(run, next);
}

function stop(): void {
  if (stopped) return;
  stopped = true;
  if (timer !== undefined) clearTimeout(timer);
  capturer.disconnect();
  watch.close();
  loopIdle.close();
  // Before the ack: the main thread reads them once it is woken.
  try {
    for (const message of foundFor.values()) data.exitPort.postMessage(message);
    for (const seq of hungSeqs) data.exitPort.postMessage({ type: 'hang', seq, elapsed: 0 } satisfies WatchdogMessage);
  } catch {
    // a context that cannot be cloned: the main thread reports the block from its time alone
  }
  // Tell the main thread (maybe waiting in its 'exit' handler) that no pause can come any more.
  Atomics.store(shared, Slot.ACK, 1);
  Atomics.notify(shared, Slot.ACK);
  port?.close();
}


// Wake at once when the main thread asks us to stop (it may be blocked waiting for the ack).
type WaitAsync = (array: Int32Array, index: number, value: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
if (waitAsync !== undefined) {
  const waiting = waitAsync(shared, Slot.STATE, State.RUNNING);
  if (waiting.async) void (waiting.value as Promise<string>).then(() => stop());
  else stop();
}

send({ type: 'ready' });
// The session keeps nothing alive in this thread: run()'s timer (or its wait) is what keeps the
// watchdog running. From a timer, so that this module finishes evaluating first.
timer = setTimeout(run, 0);
