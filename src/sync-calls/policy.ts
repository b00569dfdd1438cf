/**
 * The `syncCalls: 'warn' | 'throw'` policy: judge one call of a blocking Node API, made from
 * a wrapper installed by sync-calls.ts, against the request or task it runs in.
 */
import { currentContext } from '../context.js';
import { BlockingCallError } from '../errors.js';
import { describeRequest } from '../request-tag.js';
import type { BlockContext, BlockEvent, StackFrame } from '../types.js';
import { isIgnored, type IgnoreOption } from '../shared/ignore.js';
import { currentHttpRequest } from './http.js';
import { callerPosition, captureCallerStack, isUserFrame, markOwnFile } from '../shared/stack-text.js';
import { isRouteFrame } from '../shared/route-frames.js';

markOwnFile(new Error().stack);

/** How many call sites 'warn' remembers; beyond this the oldest is forgotten (and may warn again). */
const MAX_SITES = 10_000;

/**
 * Wrapped for the monitor's hooks but never policed: it fills a few random bytes, as uuid and
 * friends do on every request, and reporting it would bury the calls that really block.
 */
const UNPOLICED: ReadonlySet<string> = new Set(['crypto.randomFillSync']);

export interface PolicySettings {
  policy: 'warn' | 'throw';
  threshold: number;
  report: ((event: BlockEvent) => void) | undefined;
  ignore: IgnoreOption | undefined;
}

/** A call that will be reported once it returns ('warn'). */
export interface PendingCall {
  event: BlockEvent;
  site: string;
  /** The caller's raw position and the API: remembered with `site` once reported. */
  position: string | undefined;
  started: number;
  request: object | undefined;
  storeContext: BlockContext | undefined;
}

export interface Policy {
  /**
   * Called before the API runs, from the outermost wrapper (`wrapper` is dropped from the
   * captured stack). Returns the call to report after it ran, or undefined when there is
   * nothing to report; throws BlockingCallError under 'throw'.
   */
  before(call: string, wrapper: Function): PendingCall | undefined;
  /** Called after the API returned or threw. Never throws. */
  after(pending: PendingCall): void;
}

export function createPolicy(settings: PolicySettings): Policy {
  const reportedSites = new Set<string>();
  // The same sites by the caller's raw position, which costs ~1 µs to read where a full,
  // formatted (maybe source-mapped) stack costs tens: a loop calling statSync 10 000 times
  // in a request must not pay for 10 000 stacks to learn that it already warned.
  const reportedPositions = new Set<string>();

  function before(call: string, wrapper: Function): PendingCall | undefined {
    const storeContext = currentContext();
    const request = currentHttpRequest();
    // Outside any request or task (start-up, timers of no request): allowed, at no cost.
    if (storeContext === undefined && request === undefined) return undefined;
    if (UNPOLICED.has(call)) return undefined;
    let position: string | undefined;
    if (settings.policy === 'warn') {
      const raw = callerPosition(wrapper);
      position = raw === undefined ? undefined : `${raw} ${call}`;
      if (position !== undefined && reportedPositions.has(position)) return undefined;
    }
    const caller = captureCallerStack(wrapper);
    // Node calling its own public API — the loader reading a lazily required file, maybe
    // through a hook such as tsx's — is start-up work done late, not a call the user wrote.
    if (caller.loadedByNode || caller.frames[0]?.file.startsWith('node:internal/') === true) return undefined;
    // The request is known here from its own store; an adapter's route frames are only hidden.
    const stack = caller.frames.filter((frame) => isUserFrame(frame) && !isRouteFrame(frame));
    const site = siteOf(call, stack);
    // The raw position stands for the site only when the direct caller is the first user
    // frame (not Node's internals, not another wrapper of loopguard's).
    if (caller.frames[0] !== stack[0]) position = undefined;
    if (settings.policy === 'warn' && reportedSites.has(site)) {
      if (position !== undefined) remember(reportedPositions, position);
      return undefined;
    }
    // `site` is the call until the monitor names the event: reading frames here would call
    // the very APIs this wraps (loopguard's own package.json, the entry's real path).
    const event: BlockEvent = {
      kind: 'sync-call',
      call,
      duration: 0,
      threshold: settings.threshold,
      startedAt: Date.now(),
      stack,
      cause: 'native',
      site: call,
    };
    if (settings.policy === 'throw') {
      event.context = contextOf(request, storeContext);
      if (isIgnored(settings.ignore, event)) return undefined;
      const error = new BlockingCallError(call, blockingCallMessage(event));
      Error.captureStackTrace(error, wrapper);
      throw error;
    }
    return { event, site, position, started: performance.now(), request, storeContext };
  }

  function after(pending: PendingCall): void {
    const { event } = pending;
    event.duration = performance.now() - pending.started;
    // Read now rather than before the call: an adapter may have tagged the route meanwhile.
    event.context = contextOf(pending.request, pending.storeContext);
    try {
      if (isIgnored(settings.ignore, event)) return;
      remember(reportedSites, pending.site);
      if (pending.position !== undefined) remember(reportedPositions, pending.position);
      settings.report?.(event);
    } catch (error) {
      // The wrapped API already ran and its result is on its way back: a failing reporter or
      // ignore predicate must not turn it into an exception in the user's code.
      process.emitWarning(`loopguard: reporting a sync call failed: ${String(error)}`, 'LoopguardWarning');
    }
  }

  return { before, after };
}

/** `file:line:column` of the first user frame plus the API, e.g. `/app/a.js:3:7 fs.readFileSync`. */
function siteOf(call: string, stack: readonly StackFrame[]): string {
  const top = stack[0];
  return top === undefined ? call : `${top.file}:${top.line}:${top.column} ${call}`;
}

function remember(sites: Set<string>, site: string): void {
  sites.add(site);
  if (sites.size > MAX_SITES) {
    const oldest = sites.values().next().value;
    if (oldest !== undefined) sites.delete(oldest);
  }
}

/** The request's method, path (no query) and tagged route, overlaid by the task's context. */
function contextOf(request: object | undefined, storeContext: BlockContext | undefined): BlockContext {
  const fromRequest = request === undefined ? undefined : describeRequest(request);
  return { ...fromRequest, ...storeContext };
}

/** What `'throw'` says: the API, where it was called, and how to get it off the loop. */
function blockingCallMessage(event: BlockEvent): string {
  const call = event.call ?? 'a blocking call';
  const where = describeContext(event.context);
  const top = event.stack[0];
  const at = top === undefined ? '' : ` at ${top.file}:${top.line}:${top.column}`;
  return (
    `${call} blocks the event loop and was called inside ${where}${at} (syncCalls: 'throw'). ` +
    `Use ${asyncAlternative(call)} instead, or move the work off the loop with threaded() or ` +
    `runInThreadpool(); allow it with the monitor's ignore option if it is meant to block.`
  );
}

function describeContext(context: BlockContext | undefined): string {
  if (context === undefined) return 'a request';
  const target = context.route ?? context.path;
  if (context.method !== undefined && target !== undefined) return `${context.method} ${target}`;
  if (target !== undefined) return target;
  if (context.name !== undefined) return `'${context.name}'`;
  return 'a request or task';
}

/** `fs.readFileSync` → `fs.promises.readFile`, `crypto.pbkdf2Sync` → `crypto.pbkdf2`, … */
function asyncAlternative(call: string): string {
  if (call === 'fs.existsSync') return 'fs.promises.access';
  const base = call.replace(/Sync$/, '');
  if (!base.startsWith('fs.')) return base;
  // fs.promises has no read, write, close, ...: those keep their callback form.
  const name = base.slice(3);
  return name in process.getBuiltinModule('node:fs').promises ? `fs.promises.${name}` : base;
}
