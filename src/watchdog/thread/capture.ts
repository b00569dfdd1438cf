/**
 * Capturing the main thread's stack while it blocks, from the watchdog thread.
 *
 * The session is connected and `Debugger.enable`d only for the capture: left enabled the
 * debugger makes every `await` on the main thread about 12× slower (1.31× CPU per request,
 * DESIGN.md), and enabling it costs the main thread time in proportion to the scripts
 * loaded, which would otherwise show up as a block of the monitor's own at start-up.
 */
import { Session } from 'node:inspector';
import { globalKey } from '../../shared/globals.js';
import { Slot, type RawFrame, type ScriptInfo } from '../protocol.js';

export interface Capture {
  frames: RawFrame[];
  scripts: Record<string, ScriptInfo>;
  context: Record<string, unknown> | undefined;
  /** False when the pause landed after the loop had moved on. */
  stillBlocked: boolean;
  /** When Debugger.enable's reply came (epoch ms as in QuickCapture.ranAt), if it was sent. */
  enabledAt?: number;
  /** When Debugger.enable was sent (same clock). */
  enableSentAt?: number;
  /** ms the main thread was held in our own pause. */
  pausedMs?: number;
  /**
   * True when the main thread was already paused by another debugger (DevTools, an agent in a
   * worker) when the watchdog looked: the stall is that pause, which the watchdog left alone.
   */
  foreignPause?: true;
}

interface CallFrame {
  callFrameId: string;
  functionName: string;
  location: { scriptId: string; lineNumber: number; columnNumber: number };
  scopeChain: Array<{ type: string; object: { objectId?: string } }>;
}

interface PropertyDescriptor {
  name: string;
  value?: { type: string; subtype?: string; className?: string; objectId?: string };
}

/** Class names of request objects in node:http and the frameworks loopguard knows. */
const REQUEST_CLASSES = new Set(['IncomingMessage', 'Request', 'Context', 'KoaContext', 'HonoRequest']);
/** Variable names that usually hold a request or a framework context. */
const REQUEST_NAMES = new Set(['req', 'request', 'ctx', 'context', 'c', 'incoming']);
const MAX_FRAMES = 64;
const MAX_SCOPE_FRAMES = 10;
const MAX_CANDIDATES = 16;
const PAUSE_TIMEOUT = 2_000;

/** Context keys copied, `name` first; longer strings are cut to MAX_CONTEXT_STRING characters. */
const MAX_CONTEXT_KEYS = 32;
const MAX_CONTEXT_STRING = 1024;

// Run on the main thread while it blocks (READ_CONTEXT also inside QUICK_STACK below) or is
// paused: both helpers are registered on globalThis by the monitor, because evaluating on a
// native frame (or one without the module's scope) fails.
// READ_CONTEXT runs none of the store's own code and copies nothing large: it was
// `JSON.parse(JSON.stringify(store))`, which ran a value's toJSON inside the app's block (a
// toJSON that never returned hung the app for good, a slow one made a 150 ms block 2.3 s) and
// copied 300,000 loaded rows, while a BigInt made it throw and lose the context's name. Now: own
// enumerable data properties only (descriptors, so no getter runs; the store is the plain object
// withContext spread, so no Proxy trap either), `name` first, at most MAX_CONTEXT_KEYS of them,
// strings, finite numbers and booleans as they are, bigints and other numbers as strings, strings
// cut at MAX_CONTEXT_STRING; objects, arrays and functions are left out.
// It adds the active OpenTelemetry span's ids when loopguard/otel registered a reader (in its
// own try: a failing reader must not lose the request's context).
const READ_CONTEXT = `(() => { try { const s = globalThis[Symbol.for('${globalKey('contextStorage')}')];
  const store = s && s.getStore(); let out;
  if (store !== null && typeof store === 'object') {
    out = {}; let kept = 0;
    const copy = (key) => { const d = Object.getOwnPropertyDescriptor(store, key);
      if (d === undefined || !d.enumerable || !('value' in d)) return; const v = d.value; const t = typeof v;
      if (t === 'string') out[key] = v.length > ${MAX_CONTEXT_STRING} ? v.slice(0, ${MAX_CONTEXT_STRING}) + '…' : v;
      else if (t === 'boolean' || (t === 'number' && Number.isFinite(v))) out[key] = v;
      else if (t === 'number' || t === 'bigint') out[key] = String(v);
      else return;
      kept++; };
    copy('name');
    for (const key of Object.keys(store)) { if (kept >= ${MAX_CONTEXT_KEYS}) break; if (key !== 'name') copy(key); }
  }
  try { const r = globalThis[Symbol.for('${globalKey('readActiveSpan')}')]; const t = typeof r === 'function' ? r() : undefined;
    if (t) out = { ...out, traceId: String(t.traceId), spanId: String(t.spanId) }; } catch {}
  return out; }
  catch { return undefined; } })()`;
const DESCRIBE_REQUESTS = `function (...candidates) {
  const describe = globalThis[Symbol.for('${globalKey('describeRequest')}')];
  if (typeof describe !== 'function') return undefined;
  for (const candidate of [this, ...candidates]) {
    const context = describe(candidate);
    if (context !== undefined) { try { return JSON.parse(JSON.stringify(context)); } catch { return undefined; } }
  }
  return undefined;
}`;

// Whether the stack text names a route the main thread will resolve (attributeRouteFrames in
// shared/route-frames.ts, same rule: the innermost named frame whose id is registered, with a
// route or a path). Resolved here, on the main thread, in the same interrupt as the stack: the
// registry lives there, and the watchdog then knows at once whether the request walk (the
// debugger's enable, 25–100 ms and more of the main thread) would add anything.
const ROUTED = `((text) => { try {
    const ids = globalThis[Symbol.for('${globalKey('routeIds')}')];
    if (!ids || !(ids.entries instanceof Map) || typeof text !== 'string' || !text.includes('loopguard\u00b7route\u00b7')) return false;
    for (const match of text.matchAll(/loopguard\u00b7route\u00b7(\\d+)/g)) {
      const entry = ids.entries.get(Number(match[1]));
      if (entry !== undefined) return entry.route !== undefined || entry.path !== undefined;
    }
    return false; } catch { return false; } })(stack)`;

// Evaluated on the main thread while it blocks: the inspector dispatches it from a V8
// interrupt, so `new Error().stack` holds the frames of the code that is blocking, with no
// `Debugger.enable` (whose cost, 25–100 ms on the main thread and several hundred under load,
// would make short blocks end before their stack was taken). Node's own source-map support
// (tsx, --enable-source-maps) maps the text; the main thread maps the rest. The leading
// `<anonymous>` frames are this expression's own.
// It also reads the heartbeat on the main thread itself: once it has run, the main thread
// goes on, and a check from here could see a block that has just ended (a native call that
// returned, say) and throw a good stack away.
const QUICK_STACK = `(() => { const limit = Error.stackTraceLimit; Error.stackTraceLimit = 64;
  let stack; try { stack = new Error().stack; } finally { Error.stackTraceLimit = limit; }
  const heartbeat = globalThis[Symbol.for('${globalKey('heartbeat')}')];
  const beat = heartbeat instanceof Int32Array ? Atomics.load(heartbeat, ${Slot.HEARTBEAT}) : -1;
  const context = ${READ_CONTEXT};
  const routed = ${ROUTED};
  return { stack: typeof stack === 'string' ? stack : '', beat, context, routed, ranAt: performance.timeOrigin + performance.now() }; })()`;

/** The stack text of the blocking code, and the user's context if one is set. */
export interface QuickCapture {
  stackText: string;
  context: Record<string, unknown> | undefined;
  stillBlocked: boolean;
  /** When the main thread ran it (epoch ms, `performance.timeOrigin + now()`, comparable across threads). */
  ranAt: number | undefined;
  /** When it was sent (epoch ms, this thread's clock). */
  sentAt: number;
  /** The stack names a route an adapter registered (see ROUTED): the request walk adds nothing. */
  routed: boolean;
}

export interface SessionGate {
  /** Asked right before connecting; false when the main thread is stopping. */
  open(): boolean;
  /** Told once the session is gone. */
  closed(): void;
}

export class StackCapturer {
  readonly #gate: SessionGate;
  #session: Session | undefined;
  #scripts = new Map<string, ScriptInfo>();
  #waiting: ((frames: CallFrame[] | 'foreign') => void) | undefined;
  /**
   * Set once Debugger.enable has been answered in this capture. V8 tells a session that
   * enables while the thread is already paused about that pause at once, before the answer
   * (measured on Node 20: `paused` arrives between the scripts and the enable reply), while our
   * own Debugger.pause, sent with the enable or after its reply, can only land after it.
   * A pause seen before this is set was made by someone else. (One that another debugger makes
   * after it, in the few ms before our own lands, cannot be told from ours.)
   */
  #enableAnswered = false;

  constructor(gate: SessionGate) {
    this.#gate = gate;
  }

  /**
   * Pause the main thread, read its frames and context, resume. `isStillBlocked` is asked
   * while paused: if the heartbeat moved, the pause landed in whatever ran next. Leaves the
   * session connected: call `disconnect()` once the main thread runs again (see there).
   *
   * Only a pause this capture asked for is resumed. One that was there before (another
   * debugger holding the thread) is left as it is: no Debugger.resume, and Debugger.disable
   * resumes a thread only when no other session is debugging it (measured: with a second
   * session paused, disable and disconnect leave its pause alone; alone, disable lets a
   * `debugger;` statement hit during the capture go, as it would have without us).
   */
  async capture(isStillBlocked: () => boolean, readRequest: boolean, inNativeCall: boolean): Promise<Capture> {
    if (!this.#connect()) return { frames: [], scripts: {}, context: undefined, stillBlocked: false };
    try {
      this.#enableAnswered = false;
      let foreign = false;
      const paused = new Promise<CallFrame[] | 'foreign' | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), PAUSE_TIMEOUT);
        this.#waiting = (frames) => {
          clearTimeout(timer);
          foreign = frames === 'foreign';
          resolve(frames);
        };
      });
      let enabledAt: number | undefined;
      const enableSentAt = performance.timeOrigin + performance.now();
      const enabled = this.#post('Debugger.enable').finally(() => {
        this.#enableAnswered = true;
        enabledAt = performance.timeOrigin + performance.now();
      });
      // Inside a native call the main thread handles inspector messages only once it returns to
      // JavaScript, and a pause sent after the enable's reply would land after the block: there
      // both go out together. Otherwise the pause waits for the reply, and is not sent at all
      // when the reply showed another debugger's pause: sent into a pause, V8 keeps it and
      // breaks again as soon as that debugger resumes (measured on Node 20), a pause nobody
      // would then resume.
      let pauseSent = inNativeCall ? this.#post('Debugger.pause') : undefined;
      await enabled;
      if (pauseSent === undefined && !foreign) pauseSent = this.#post('Debugger.pause');
      await pauseSent;
      const callFrames = await paused;
      const timing = (): { enabledAt?: number; enableSentAt: number } =>
        enabledAt === undefined ? { enableSentAt } : { enabledAt, enableSentAt };
      if (callFrames === 'foreign') {
        return { frames: [], scripts: {}, context: undefined, stillBlocked: isStillBlocked(), foreignPause: true, ...timing() };
      }
      if (callFrames === undefined) {
        // A native call that never returns to JavaScript: nothing to read.
        return { frames: [], scripts: {}, context: undefined, stillBlocked: isStillBlocked(), ...timing() };
      }
      const pausedAt = performance.now();
      let result: Capture = { frames: [], scripts: {}, context: undefined, stillBlocked: false };
      try {
        if (isStillBlocked()) result = await this.#read(callFrames, readRequest);
      } finally {
        await this.#post('Debugger.resume').catch(() => undefined);
      }
      return { ...result, ...timing(), pausedMs: performance.now() - pausedAt };
    } finally {
      this.#waiting = undefined;
      await this.#post('Debugger.disable').catch(() => undefined);
    }
  }

  /**
   * Take the blocking code's stack text without pausing or enabling the debugger. Leaves the
   * session connected (a `capture()` may be under way beside it): call `disconnect()` after.
   */
  async quickStack(seq: number, isStillBlocked: () => boolean): Promise<QuickCapture | undefined> {
    if (!this.#connect()) return undefined;
    const sentAt = performance.timeOrigin + performance.now();
    const evaluated = (await this.#post('Runtime.evaluate', {
      expression: QUICK_STACK,
      returnByValue: true,
      silent: true,
    })) as { result?: { value?: { stack?: unknown; beat?: unknown; context?: unknown; routed?: unknown; ranAt?: unknown } } };
    const value = evaluated.result?.value;
    const ranAt = typeof value?.ranAt === 'number' ? value.ranAt : undefined;
    const stillBlocked = value?.beat === -1 || value?.beat === undefined ? isStillBlocked() : value.beat === seq;
    if (!stillBlocked || typeof value?.stack !== 'string') return { stackText: '', context: undefined, stillBlocked, ranAt, sentAt, routed: false };
    const context = typeof value.context === 'object' && value.context !== null ? value.context : undefined;
    const routed = value.routed === true;
    return { stackText: value.stack, context: context as Record<string, unknown> | undefined, stillBlocked, ranAt, sentAt, routed };
  }

  /**
   * Drop the session. Call it once the heartbeat has moved again (or when stopping), not while
   * the main thread may still be held: when another debugger holds it paused, Node 20 handles a
   * session's removal from inside the pause loop and can abort the whole process there
   * (SIGABRT in MainThreadInterface::Post, measured: 3 runs in 6 of the foreign-pause fixture).
   */
  disconnect(): void {
    const session = this.#session;
    this.#session = undefined;
    this.#scripts.clear();
    if (session !== undefined) {
      try {
        session.disconnect();
      } catch {
        // already gone
      }
      this.#gate.closed();
    }
  }

  #connect(): boolean {
    if (this.#session !== undefined) return true;
    if (!this.#gate.open()) return false;
    const session = new Session();
    try {
      session.connectToMainThread();
    } catch (error) {
      this.#gate.closed();
      throw error;
    }
    session.on('Debugger.scriptParsed', (message) => {
      const { scriptId, url, sourceMapURL } = message.params;
      this.#scripts.set(scriptId, { url, sourceMapURL: sourceMapURL ?? '' });
    });
    session.on('Debugger.paused', (message) => {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      // Never resumed here: a pause that is not the answer to our own Debugger.pause belongs to
      // whoever made it (see capture()).
      if (waiting !== undefined) waiting(this.#enableAnswered ? (message.params.callFrames as unknown as CallFrame[]) : 'foreign');
    });
    this.#session = session;
    return true;
  }

  async #read(callFrames: CallFrame[], readRequest: boolean): Promise<Capture> {
    const frames: RawFrame[] = [];
    const scripts: Record<string, ScriptInfo> = {};
    for (const frame of callFrames.slice(0, MAX_FRAMES)) {
      const { scriptId, lineNumber, columnNumber } = frame.location;
      frames.push({ functionName: frame.functionName, scriptId, line: lineNumber, column: columnNumber });
      const script = this.#scripts.get(scriptId);
      if (script !== undefined) scripts[scriptId] = script;
    }
    const stored = await this.#readStoredContext();
    const request = readRequest ? await this.#readRequest(callFrames) : undefined;
    const context = stored === undefined && request === undefined ? undefined : { ...request, ...stored };
    return { frames, scripts, context, stillBlocked: true };
  }

  /**
   * Runtime.evaluate, never Debugger.evaluateOnCallFrame: evaluating on a frame writes the
   * frame's variables back afterwards, and in a derived constructor paused before `super()`
   * (with `this` captured by a closure) that write fills `this`, so `super()` then throws
   * "Super constructor may only be called once" in the app. The store is the thread's
   * current one either way, so the global evaluate reads the same value.
   */
  async #readStoredContext(): Promise<Record<string, unknown> | undefined> {
    try {
      const result = await this.#post('Runtime.evaluate', { expression: READ_CONTEXT, returnByValue: true });
      const value = (result as { result?: { value?: unknown } }).result?.value;
      return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The nearest request-like object in the paused frames' scopes, described on the main thread. */
  async #readRequest(callFrames: CallFrame[]): Promise<Record<string, unknown> | undefined> {
    const candidates: string[] = [];
    try {
      for (const frame of callFrames.slice(0, MAX_SCOPE_FRAMES)) {
        for (const scope of frame.scopeChain) {
          if (scope.type !== 'local' && scope.type !== 'closure' && scope.type !== 'block') continue;
          if (scope.object.objectId === undefined) continue;
          const { result } = (await this.#post('Runtime.getProperties', {
            objectId: scope.object.objectId,
            ownProperties: true,
          })) as { result: PropertyDescriptor[] };
          for (const property of result) {
            const value = property.value;
            if (value?.type !== 'object' || value.objectId === undefined || value.subtype !== undefined) continue;
            if (REQUEST_CLASSES.has(value.className ?? '') || REQUEST_NAMES.has(property.name)) {
              candidates.push(value.objectId);
            }
          }
          if (candidates.length >= MAX_CANDIDATES) break;
        }
        if (candidates.length >= MAX_CANDIDATES) break;
      }
      const [first, ...rest] = candidates.slice(0, MAX_CANDIDATES);
      if (first === undefined) return undefined;
      const described = (await this.#post('Runtime.callFunctionOn', {
        objectId: first,
        functionDeclaration: DESCRIBE_REQUESTS,
        arguments: rest.map((objectId) => ({ objectId })),
        returnByValue: true,
      })) as { result?: { value?: unknown } };
      const value = described.result?.value;
      return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }

  #post(method: string, params?: object): Promise<unknown> {
    const session = this.#session;
    if (session === undefined) return Promise.reject(new Error('inspector session is closed'));
    return new Promise((resolve, reject) => {
      session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result)));
    });
  }
}
