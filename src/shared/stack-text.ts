/**
 * Turning V8's `Error.stack` text into {@link StackFrame}s, and capturing the stack of the
 * code that called a wrapped API. Shared by the sync-call policy and, if it likes, the
 * monitor: both report frames innermost first, in the same shape as the watchdog's.
 */
import { callSitesOf } from './call-sites.js';
import { fileOf } from './paths.js';
import type { StackFrame } from '../types.js';

/** Name used for a frame whose function has none (V8 prints nothing or `<anonymous>`). */
export const ANONYMOUS = '<anonymous>';

// `    at [async ][new ]name (location)` or `    at location`; the location itself may hold
// parentheses (paths, eval origins), so it is cut out by matching brackets from the end.
const FRAME_PREFIX = /^\s*at\s+/;
const POSITION = /^(.*):(\d+):(\d+)$/;

/**
 * Parse a V8 stack string (`err.stack`) into frames, innermost first. The message lines
 * are skipped, and so are frames without a file position (`native`, `<anonymous>`,
 * `Promise.all (index 0)`). `file://` URLs become paths; a frame inside `eval` code is
 * placed at the eval call. Never throws.
 */
export function parseStack(stack: string): StackFrame[] {
  const frames: StackFrame[] = [];
  if (typeof stack !== 'string') return frames;
  for (const line of stack.split('\n')) {
    if (!FRAME_PREFIX.test(line)) continue;
    const frame = parseFrame(line.replace(FRAME_PREFIX, '').trim());
    if (frame !== undefined) frames.push(frame);
  }
  return frames;
}

function parseFrame(frameText: string): StackFrame | undefined {
  // `async fn (…)`, `async file:1:2` (an awaiting frame), `new Foo (…)`: the keyword is not
  // part of the name.
  const text = frameText.replace(/^(?:async|new)\s+/, '');
  let name = '';
  let location = text;
  if (text.endsWith(')')) {
    const open = matchingOpen(text);
    if (open > 0) {
      name = text.slice(0, open).trim();
      location = text.slice(open + 1, -1);
    }
  }
  // `eval at outer (file:1:2), <anonymous>:3:4`: the eval's own position is meaningless to a
  // reader, the place that called eval is not.
  if (location.startsWith('eval at ')) {
    const origin = /\((.*?:\d+:\d+)\)/.exec(location);
    if (origin === null || origin[1] === undefined) return undefined;
    location = origin[1];
  }
  const position = POSITION.exec(location);
  if (position === null) return undefined;
  const [, file = '', line = '0', column = '0'] = position;
  return {
    function: name === '' ? ANONYMOUS : name,
    file: fileOf(file),
    line: Number(line),
    column: Number(column),
  };
}

/** Index of the `(` that the final `)` of `text` closes, or -1. */
function matchingOpen(text: string): number {
  let depth = 0;
  for (let i = text.length - 1; i >= 0; i--) {
    const char = text[i];
    if (char === ')') depth++;
    else if (char === '(' && --depth === 0) return i;
  }
  return -1;
}

const ownFiles = new Set<string>();

/**
 * Record the file of the module that calls this (pass `new Error().stack`) as one of
 * loopguard's own, so its frames are left out of reported stacks. Files rather than a
 * directory: an application that bundles loopguard into its own `dist/` must keep its frames.
 */
export function markOwnFile(stack: string | undefined): void {
  const file = parseStack(stack ?? '')[0]?.file;
  if (file !== undefined) ownFiles.add(file);
}

markOwnFile(new Error().stack);

/** Frames a user should see: none of loopguard's own, none of Node's internals. */
export function isUserFrame(frame: StackFrame): boolean {
  return !frame.file.startsWith('node:internal/') && !ownFiles.has(frame.file);
}

export interface CallerStack {
  /** Innermost first, unfiltered: the first frame is the direct caller. */
  frames: StackFrame[];
  /**
   * The call was made by Node's module loader — directly, or through a loader hook in
   * `node_modules` such as tsx's — for a lazy `require()`: the frames before the first
   * application frame include a synchronous (not `at async …`) frame of
   * `node:internal/modules/`. A module's own top-level code is application code, so its
   * calls do not count as the loader's.
   */
  loadedByNode: boolean;
}

/**
 * The stack of whoever called `below` (a wrapper function): V8 drops `below` and everything
 * it called from the trace, so the first frame is the direct caller. Filter with
 * {@link isUserFrame} for reporting. The limit is raised for the capture only, because
 * frames of loopguard and Node's internals are filtered out afterwards.
 */
export function captureCallerStack(below: Function, limit = 30): CallerStack {
  const holder: { stack?: string } = {};
  const saved = Error.stackTraceLimit;
  Error.stackTraceLimit = limit;
  try {
    Error.captureStackTrace(holder, below);
  } finally {
    Error.stackTraceLimit = saved;
  }
  const frames: StackFrame[] = [];
  let loadedByNode = false;
  let inApplication = false;
  for (const line of (holder.stack ?? '').split('\n')) {
    if (!FRAME_PREFIX.test(line)) continue;
    const text = line.replace(FRAME_PREFIX, '').trim();
    const frame = parseFrame(text);
    if (frame === undefined) continue;
    frames.push(frame);
    if (inApplication) continue;
    if (frame.file.startsWith('node:internal/modules/') && !text.startsWith('async ')) loadedByNode = true;
    inApplication = !frame.file.startsWith('node:') && !/[\\/]node_modules[\\/]/.test(frame.file);
  }
  return { frames, loadedByNode };
}

/**
 * A cheap identity of the place that called `below`: the unmapped `file:line:column` of the
 * direct caller, read from V8's structured call sites without formatting (or source-mapping)
 * a stack. Used to skip call sites already reported before paying for a full stack.
 */
export function callerPosition(below: Function): string | undefined {
  const site = callSitesOf(below, 1)[0];
  if (site === undefined) return undefined;
  const file = site.getFileName() ?? site.getEvalOrigin() ?? '?';
  return `${file}:${site.getLineNumber()}:${site.getColumnNumber()}`;
}
