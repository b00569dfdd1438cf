/**
 * The only part of the monitor that writes: pretty text or JSON lines on stderr, or a
 * logger's `warn(obj, msg)` (pino, console). Repeated blocks at one site and route are
 * logged once per `dedupe` window and counted.
 *
 * Everything user-controlled (paths, routes, function and file names, context values) is
 * escaped before it reaches a terminal, and nothing a logger does can reach the caller: the
 * monitor emits an event before it logs it, and a logger that throws loses only its line.
 */
import type { BlockEvent, Logger } from '../types.js';
import { culpritOf, describeStack, formatFrame, labelOf, routeOf, siteKey, visibleFrames } from '../shared/frames.js';
import { escapeTerminal, jsonLine } from '../shared/terminal-text.js';

const PRETTY_FRAMES = 8;
const DEDUPE_KEYS = 1000;

export class Reporter {
  readonly #log: 'pretty' | 'json' | false | Logger;
  readonly #dedupe: number;
  /**
   * Per site (function and file, as topBlockers() groups) + route: when it was last logged and how many were left out since. Keys come
   * from clients (paths), so at most DEDUPE_KEYS are kept, least recently logged dropped first.
   */
  readonly #seen = new Map<string, { loggedAt: number; suppressed: number }>();

  constructor(log: 'pretty' | 'json' | false | Logger, dedupe: number) {
    this.#log = log;
    this.#dedupe = dedupe;
  }

  block(event: BlockEvent): void {
    if (this.#log === false) return;
    const info = describeStack(event.stack, event.call);
    const { site } = info;
    const route = routeOf(event.context);
    const key = `${event.kind === 'sync-call' ? 'sync' : 'block'}\0${siteKey(site, event.stack.length > 0)}\0${route ?? ''}`;
    const now = Date.now();
    const seen = this.#seen.get(key);
    if (seen !== undefined && now - seen.loggedAt < this.#dedupe) {
      seen.suppressed += 1;
      return;
    }
    const suppressed = seen?.suppressed ?? 0;
    // Delete first, so the key moves to the end: the map's order is then least recently logged first.
    this.#seen.delete(key);
    this.#seen.set(key, { loggedAt: now, suppressed: 0 });
    if (this.#seen.size > DEDUPE_KEYS) this.#seen.delete(this.#seen.keys().next().value as string);
    const message =
      info.own === true
        ? `event loop blocked for ${event.duration} ms by loopguard's own work at ${site}, not the app's code (threshold ${event.threshold} ms)`
        : headline(event, route, labelOf(site, info.library, info.entry), info.module);
    if (this.#log === 'pretty') {
      write(pretty(event, message, suppressed, this.#dedupe, info.own === true));
    } else {
      const fields = { ...event, site, ...(route === undefined ? {} : { route }), ...(suppressed > 0 ? { suppressed } : {}) };
      this.#structured(fields, message);
    }
  }

  /** A warning of loopguard's own (e.g. "pool saturated", "stacks unavailable"). */
  warn(fields: object, message: string): void {
    if (this.#log === false) return;
    if (this.#log === 'pretty') {
      const details = Object.entries(fields)
        .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
        .join(' ');
      write(escapeTerminal(`loopguard: ${message}${details === '' ? '' : ` (${details})`}`) + '\n');
    } else {
      this.#structured(fields, message);
    }
  }

  #structured(fields: object, message: string): void {
    if (this.#log === 'json') {
      write(`${jsonLine({ level: 'warn', time: Date.now(), pid: process.pid, msg: message, ...fields })}\n`);
    } else if (this.#log !== false && this.#log !== 'pretty') {
      try {
        this.#log.warn(fields, message);
      } catch {
        // The user's logger failed (a closed transport, a bug): its line is lost, nothing else.
        // Not rethrown: the monitor calls this from timers, where it would crash the host.
      }
    }
  }
}

/** `label`: the site as shown (`slow-crypt.digestSync via verifyChecksum (…)`); `module`: the module a start-up block was loading. */
function headline(event: BlockEvent, route: string | undefined, label: string, module: string | undefined): string {
  const where = route === undefined ? '' : ` in ${route}`;
  if (event.phase === 'startup') {
    if (module !== undefined || event.stack.length === 0) {
      return `event loop blocked for ${event.duration} ms while loading modules${module === undefined ? '' : ` (${module})`} (threshold ${event.threshold} ms)`;
    }
    // The app's own set-up, before its first server listened (startup-listen.ts).
    return `event loop blocked for ${event.duration} ms during start-up, before the first server listened, at ${label} (threshold ${event.threshold} ms)`;
  }
  // Only when a library was running: the app's own function is the first frame shown anyway.
  const at = label === undefined || event.library === undefined ? '' : ` at ${label}`;
  if (event.kind === 'sync-call') return `blocking call ${event.call ?? 'to a sync API'}${where}`;
  const by =
    event.cause === 'host'
      ? ' while the process was not running (stopped, or starved by the host)'
      : event.cause === 'wait'
        ? event.call !== undefined
          ? ` waiting in ${event.call}`
          : ' waiting (the main thread was parked, not computing)'
        : event.cause === 'native' && event.call !== undefined
          ? ` by ${event.call}`
          : event.cause === 'gc'
            ? ' by garbage collection'
            : '';
  const state = event.kind === 'hang' ? 'hung' : 'blocked';
  return `event loop ${state} for ${event.duration} ms${by}${at} (threshold ${event.threshold} ms)${where}`;
}

/** Every line is escaped on its own: nothing in a value can add a line or a terminal sequence. */
function pretty(event: BlockEvent, message: string, suppressed: number, window: number, own: boolean): string {
  const lines = [`loopguard: ${message}`];
  if (suppressed > 0) lines[0] += ` — and ${suppressed} more like it in the last ${Math.round(window / 1000)} s`;
  const frames = visibleFrames(event.stack);
  for (const frame of frames.slice(0, PRETTY_FRAMES)) lines.push(`    at ${formatFrame(frame)}`);
  if (frames.length > PRETTY_FRAMES) lines.push(`    ... ${frames.length - PRETTY_FRAMES} more`);
  if (frames.length === 0) lines.push(event.cause === 'host' ? '    (no code of the app to blame)' : '    (stack not captured)');
  if (frames.length > 0 && event.stackLate === true) {
    lines.push('  note: this stack was taken after the blocking work ended (native code V8 does not interrupt): it shows what ran next');
  }
  // Distinct stacks may still name one site (the same function, reached by other callers deeper
  // down: json-server's `list` printed "list → list"): a site repeated in a row is said once, and
  // the line is left out when only one remains, since it would tell nothing the stack does not.
  const sites: string[] = [];
  for (const stack of event.stacks ?? []) {
    const site = describeStack(stack).site;
    if (sites.at(-1) !== site) sites.push(site);
  }
  if (sites.length > 1) lines.push(`  it went through: ${sites.join(' → ')}`);
  if (event.kind === 'sync-call') {
    lines.push(`  hint: use the asynchronous form of ${event.call ?? 'this API'}, or move it off the loop with runInThreadpool()`);
  } else if (event.cause === 'wait') {
    lines.push(`  hint: use the asynchronous form of ${event.call ?? 'the call that waits'}, or move the wait off the loop`);
  } else if (event.cause !== 'gc' && event.cause !== 'host' && event.phase !== 'startup' && !own) {
    // Only where a function of the app's own is known: a stackless block, or one wholly in a
    // package's code, has nothing the user could hand to threaded().
    const culprit = culpritOf(event);
    if (culprit !== undefined) lines.push(`  hint: move it off the loop with threaded(${culprit}) or runInThreadpool()`);
  }
  return `${lines.map(escapeTerminal).join('\n')}\n`;
}

function write(text: string): void {
  try {
    process.stderr.write(text);
  } catch {
    // stderr closed: reporting must never break the program
  }
}
