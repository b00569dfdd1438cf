/** How a block is named: its site (the innermost frame worth showing) and its route. */
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { displayFile, fileOf } from './paths.js';
import { markOwnFile } from './stack-text.js';
import type { BlockContext, BlockEvent, StackFrame } from '../types.js';

/**
 * loopguard's own files, built (dist/) or source-mapped back to src/: a block is never blamed
 * on its wrappers (withContext, the sync-call wrappers) but on the user code they ran. Only
 * when this file sits in the loopguard package: an application that bundles loopguard into
 * its own dist/ must keep its frames.
 */
let ownDirs: string[] | undefined;

// The file reads below (package.json, the entry's real path) are loopguard's, not the app's
// blocking calls: wherever the bundler puts this file, it is marked as ours.
markOwnFile(new Error().stack);

/** Read once, on the first block, not when the package is imported. */
function ownDirectories(): string[] {
  if (ownDirs !== undefined) return ownDirs;
  ownDirs = [];
  // This file is dist/<chunk>.js when built and src/shared/frames.ts when run from source.
  let root = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 2; up += 1) {
    root = dirname(root);
    try {
      const { name } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: unknown };
      if (name === 'loopguard') ownDirs = [`${root}${sep}dist${sep}`, `${root}${sep}src${sep}`];
      break;
    } catch {
      // no package.json here: look one level up, else we are bundled into an application,
      // whose frames all stay
    }
  }
  return ownDirs;
}

function isOwn(frame: StackFrame): boolean {
  return ownDirectories().some((dir) => frame.file.startsWith(dir));
}

function isInternal(frame: StackFrame): boolean {
  return frame.file.startsWith('node:') || frame.file === '' || isOwn(frame);
}

/**
 * loopguard's own work on the main thread (mapping a stack through its source maps with
 * `@jridgewell/trace-mapping`, judging a block): run from one of its timers, immediates or
 * messages, so the outermost frame outside Node is loopguard's, and no frame is the app's own.
 * Its wrappers (withContext, guard, the sync-call wrappers, the adapters) are called by the
 * app's code or a framework, which are then further out: those blocks stay the app's.
 */
function isOwnStack(stack: readonly StackFrame[]): boolean {
  let outermost: StackFrame | undefined;
  for (const frame of stack) {
    if (frame.file.startsWith('node:') || frame.file === '') continue;
    if (isAppFrame(frame)) return false;
    outermost = frame;
  }
  return outermost !== undefined && isOwn(outermost);
}

/**
 * Packages that run a request's handler rather than do its work: with no frame of the app's own
 * on the stack (an app installed from npm: json-server, Verdaccio), the handler one of them
 * called is the site, the same for every capture of one cause, wherever inside it the stack was
 * taken.
 */
const FRAMEWORKS = new Set([
  'express',
  'router',
  'connect',
  'finalhandler',
  'body-parser',
  'compression',
  // The plumbing they call on every request (a stack taken there names the handler around it).
  'parseurl',
  'path-to-regexp',
  'qs',
  'send',
  'serve-static',
  'on-finished',
  'on-headers',
  'raw-body',
  'type-is',
  'content-type',
  'accepts',
  'negotiator',
  'fresh',
  'etag',
  'vary',
  'cookie',
  'range-parser',
  'encodeurl',
  'escape-html',
  'fastify',
  'find-my-way',
  'avvio',
  'light-my-request',
  'koa',
  'koa-compose',
  '@koa/router',
  'koa-router',
  'hono',
  '@hono/node-server',
  '@nestjs/core',
  '@nestjs/common',
  '@nestjs/platform-express',
  '@nestjs/platform-fastify',
  'rxjs',
  'restify',
  '@hapi/hapi',
  'polka',
  'h3',
]);

function isFramework(frame: StackFrame): boolean {
  return FRAMEWORKS.has(packageOf(frame.file) ?? '');
}

/**
 * Where a block of library code is named when no frame is the app's own (an app run from
 * node_modules: json-server, Verdaccio). The innermost frame alone changes from capture to
 * capture of one hot loop (lodash's `arrayFilter`, then json-server's `deepQuery`): one cause
 * would be several rows. So, in order:
 * - the innermost frame a framework called: the route handler (json-server's `list`), whatever
 *   it called; the library is its package;
 * - else the code that called the innermost package, as for an app's own frame
 *   (`bcryptjs.compare via <anonymous> (verdaccio-htpasswd/src/utils.ts:59)`): a continuation
 *   after an `await` has no framework frame below it, and the outermost frame is then whatever
 *   the stack's depth limit cut at (Babel's `_next`);
 * - else (the whole stack is one package's: a `setImmediate` continuation) its outermost frame.
 */
function libraryAnchor(visible: readonly StackFrame[]): { site: StackFrame; library?: string; entry?: StackFrame } | undefined {
  for (let index = 0; index + 1 < visible.length; index += 1) {
    const frame = visible[index] as StackFrame;
    if (!isFramework(frame) && isFramework(visible[index + 1] as StackFrame)) {
      const library = packageOf(frame.file);
      return library === undefined ? { site: frame } : { site: frame, library };
    }
  }
  const innermost = visible[0];
  if (innermost === undefined) return undefined;
  const library = packageOf(innermost.file);
  if (library === undefined) return { site: innermost };
  let entry = innermost;
  for (const frame of visible) {
    if (packageOf(frame.file) !== library) return { site: frame, library, entry };
    entry = frame;
  }
  return { site: entry, library };
}

/** Frames worth showing: Node's own internals left out (unless nothing else is left). */
export function visibleFrames(stack: readonly StackFrame[]): StackFrame[] {
  const visible = stack.filter((frame) => !isInternal(frame));
  return visible.length > 0 ? visible : stack.slice();
}

export function formatFrame(frame: StackFrame): string {
  return `${frame.function} (${displayFile(frame.file)}:${frame.line}:${frame.column})`;
}

const NODE_MODULES = `${sep}node_modules${sep}`;

/** The app's own code: not Node's, not loopguard's, not a package's under node_modules. */
function isAppFrame(frame: StackFrame): boolean {
  // A separator first: the watchdog's frames are relative to the app's directory already.
  return !isInternal(frame) && !`${sep}${frameFile(frame)}`.includes(NODE_MODULES);
}

/** Paths as the platform writes them, whether the frame names a path or a `file://` URL. */
function frameFile(frame: StackFrame): string {
  return fileOf(frame.file);
}

/**
 * The package a frame's file belongs to: the segment after its last `node_modules/`
 * (`@scope/name` for a scoped package; pnpm's `.pnpm/x@1/node_modules/x/` ends in the real one).
 */
export function packageOf(file: string): string | undefined {
  const path = `${sep}${fileOf(file)}`;
  const at = path.lastIndexOf(NODE_MODULES);
  if (at === -1) return undefined;
  const parts = path.slice(at + NODE_MODULES.length).split(sep);
  const [first = '', second] = parts;
  if (first === '' || first.startsWith('.')) return undefined;
  return first.startsWith('@') && second !== undefined ? `${first}/${second}` : first;
}

function siteText(frame: StackFrame): string {
  return `${frame.function} (${displayFile(frame.file)}:${frame.line})`;
}

/** How a block is named: its site, the library that was running, and whether it was start-up. */
export interface SiteInfo {
  /**
   * `'fn (file:line)'` of the innermost frame of the app's own code; without one, of the handler
   * a framework called, else of the outermost library frame (see anchorFrame).
   */
  site: string;
  /**
   * The package of the innermost visible frame, when that frame is not the app's own; without
   * any frame of the app's, the site's package.
   */
  library?: string;
  /** `'slow-crypt.digestSync'`: the library and the function of it the app called. */
  entry?: string;
  /** The block ran a module's top-level code (an import, a require). */
  phase?: 'startup';
  /** For start-up: the module whose top-level code ran, or its package for node_modules. */
  module?: string;
  /** loopguard's own work (its source-map reading, say): `library` is then `'loopguard'`. */
  own?: true;
}

/** `'slow-crypt.digestSync'`: the library and the function of it the app called, or the library alone. */
function entryName(library: string, called: StackFrame | undefined): string {
  const name = called?.function.split('.').pop() ?? '';
  return name === '' || name === '<anonymous>' ? library : `${library}.${name}`;
}

/** The `library` of a block that was loopguard's own work on the main thread, not the app's. */
export const OWN_LIBRARY = 'loopguard';

/**
 * A module's top-level code: the frame just inside the loader's call (ESM: `ModuleJob.run`
 * or `runSync` in `node:internal/modules/esm/`; CommonJS: `Module._compile` in
 * `node:internal/modules/cjs/`), the same markers on Node 20 to 26. The innermost such frame
 * names the module whose evaluation was running.
 */
function moduleFrame(stack: readonly StackFrame[]): StackFrame | undefined {
  for (let index = 0; index + 1 < stack.length; index += 1) {
    const outer = stack[index + 1];
    if (outer === undefined || !outer.file.startsWith('node:internal/modules/')) continue;
    // Node's own built-in modules load lazily through the same calls (seen on json-server:
    // "loading modules (node:path)" inside express's require): the app's module is further out.
    if (stack[index]?.file.startsWith('node:') === true) continue;
    if (/(^|\.)(ModuleJob\.run|ModuleJob\.runSync|Module\._compile)$/.test(outer.function)) return stack[index];
  }
  return undefined;
}

let entryFiles: string[] | undefined;

/**
 * The program's entry module (`process.argv[1]`, as given and with links resolved): its own
 * top-level code is the program itself (a script's whole work), not a module being loaded.
 */
function isEntry(file: string): boolean {
  if (entryFiles === undefined) {
    const script = process.argv[1];
    entryFiles = [];
    if (script !== undefined) {
      entryFiles.push(resolve(script));
      try {
        entryFiles.push(realpathSync(script));
      } catch {
        // not a file (a REPL, `-e`): nothing else to compare
      }
    }
  }
  return entryFiles.includes(fileOf(file));
}

/**
 * Site, library and phase of a stack (see SiteInfo); `call` names a block without a stack.
 * `startup: false` where the entry module is not this process's (the CLI judging the app's).
 */
export function describeStack(stack: readonly StackFrame[], call?: string, { startup = true } = {}): SiteInfo {
  if (isOwnStack(stack)) {
    // Named after loopguard's innermost frame (what the monitor was doing), never the app's.
    const own = stack.find(isOwn) as StackFrame;
    return { site: siteText(own), library: OWN_LIBRARY, entry: OWN_LIBRARY, own: true };
  }
  const visible = visibleFrames(stack);
  const innermost = visible[0];
  if (innermost === undefined) return { site: call ?? '<unknown>' };
  const appIndex = visible.findIndex(isAppFrame);
  const app = appIndex === -1 ? undefined : visible[appIndex];
  const info: SiteInfo = { site: siteText(app ?? innermost) };
  if (app === undefined) {
    // No code of the app's own (it is itself a package: json-server, Verdaccio): see libraryAnchor.
    const anchor = libraryAnchor(visible);
    if (anchor !== undefined) {
      info.site = siteText(anchor.site);
      if (anchor.library !== undefined) {
        info.library = anchor.library;
        info.entry = entryName(anchor.library, anchor.entry);
      }
    }
  } else if (app !== innermost) {
    const library = packageOf(innermost.file);
    if (library !== undefined) {
      info.library = library;
      // The library's function the app called: its outermost frame below the app's frame.
      let called: StackFrame | undefined;
      for (const frame of visible.slice(0, appIndex)) if (packageOf(frame.file) === library) called = frame;
      info.entry = entryName(library, called);
    }
  }
  const loading = startup ? moduleFrame(stack) : undefined;
  if (loading !== undefined && !isEntry(loading.file)) {
    info.phase = 'startup';
    info.module = packageOf(loading.file) ?? displayFile(loading.file);
  }
  return info;
}

/** `'fn (file:line)'` of the app's own innermost frame (see SiteInfo); the API name or `'<unknown>'` without one. */
export function siteOf(event: Pick<BlockEvent, 'stack' | 'call'>): string {
  return describeStack(event.stack, event.call).site;
}

/**
 * `'fn (file)'`: a site without its line, for grouping (one hot function is one row and one
 * log line, however many of its lines were caught running). `fromStack` false: a site that is
 * an API name or `'<unknown>'`, kept whole.
 */
export function siteKey(site: string, fromStack: boolean): string {
  const match = /^(.*):\d+\)$/.exec(site);
  return match === null || !fromStack ? site : `${match[1] ?? ''})`;
}

/**
 * How a site reads in the log, the summary and the report: `'slow-crypt.digestSync via
 * verifyChecksum (app/lib/checksum.mjs:5)'` when a library was running below the app's own
 * function, the site alone otherwise. Never cut.
 */
export function labelOf(site: string, library: string | undefined, entry: string | undefined): string {
  if (library === undefined) return site;
  return `${entry ?? library} via ${site}`;
}

/** Adds `site`, `library` and `phase` to an event built from a stack. */
export function named<T extends Omit<BlockEvent, 'site'>>(event: T, options?: { startup?: boolean }): T & Pick<BlockEvent, 'site'> {
  const info = describeStack(event.stack, event.call, options);
  const result = event as T & Pick<BlockEvent, 'site'>;
  result.site = info.site;
  if (info.library === undefined) delete result.library;
  else result.library = info.library;
  if (info.phase === undefined) delete result.phase;
  else result.phase = info.phase;
  return result;
}

/** `'GET /users/:id'`, `'GET /path'`, a guard's name, or undefined outside any context. */
export function routeOf(context: BlockContext | undefined): string | undefined {
  if (context === undefined) return undefined;
  const { method, route, path, name } = context;
  const target = typeof route === 'string' ? route : typeof path === 'string' ? path : undefined;
  if (target !== undefined) return typeof method === 'string' ? `${method} ${target}` : target;
  return typeof name === 'string' ? name : undefined;
}

/** The function to suggest moving off the loop: the innermost named one in the user's code. */
export function culpritOf(event: BlockEvent): string | undefined {
  for (const frame of event.stack) {
    if (!isAppFrame(frame)) continue;
    // V8's text stacks name methods `Receiver.name` and listeners `Server.<anonymous>`:
    // only the function's own name can be passed to threaded().
    const name = frame.function.split('.').pop() ?? '';
    if (name !== '' && name !== '<anonymous>') return name;
  }
  return undefined;
}
