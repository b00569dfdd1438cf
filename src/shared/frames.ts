/** How a block is named: its site (the innermost frame worth showing) and its route. */
import { readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { displayFile } from './paths.js';
import type { BlockContext, BlockEvent, StackFrame } from '../types.js';

/**
 * loopguard's own files, built (dist/) or source-mapped back to src/: a block is never blamed
 * on its wrappers (withContext, the sync-call wrappers) but on the user code they ran. Only
 * when this file sits in the loopguard package: an application that bundles loopguard into
 * its own dist/ must keep its frames.
 */
let ownDirs: string[] | undefined;

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

export function isInternal(frame: StackFrame): boolean {
  return frame.file.startsWith('node:') || frame.file === '' || ownDirectories().some((dir) => frame.file.startsWith(dir));
}

/** Frames worth showing: Node's own internals left out (unless nothing else is left). */
export function visibleFrames(stack: readonly StackFrame[]): StackFrame[] {
  const visible = stack.filter((frame) => !isInternal(frame));
  return visible.length > 0 ? visible : stack.slice();
}

export function formatFrame(frame: StackFrame): string {
  return `${frame.function} (${displayFile(frame.file)}:${frame.line}:${frame.column})`;
}

/** `'fn (file:line)'` for the innermost visible frame; the API name or `'<unknown>'` without one. */
export function siteOf(event: BlockEvent): string {
  const top = visibleFrames(event.stack)[0];
  if (top === undefined) return event.call ?? '<unknown>';
  return `${top.function} (${displayFile(top.file)}:${top.line})`;
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
    if (isInternal(frame) || frame.file.includes(`${sep}node_modules${sep}`)) continue;
    // V8's text stacks name methods `Receiver.name` and listeners `Server.<anonymous>`:
    // only the function's own name can be passed to threaded().
    const name = frame.function.split('.').pop() ?? '';
    if (name !== '' && name !== '<anonymous>') return name;
  }
  return undefined;
}
