/**
 * Mapping captured frames to original positions, shared by the main thread (block events)
 * and the watchdog thread (hang reports): it imports nothing from either side. Only reported
 * frames are mapped, lazily, each script's map parsed once. The inspector always gives
 * generated positions (even when `--enable-source-maps` maps Error stacks), and
 * `Debugger.scriptParsed` tells us each script's `sourceMappingURL`: a file next to it
 * (tsup's `.map`) or an inline data URL (tsx).
 */
import { readFileSync } from 'node:fs';
import { findSourceMap } from 'node:module';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { originalPositionFor, TraceMap } from '@jridgewell/trace-mapping';
import { fileOf } from './paths.js';
import type { StackFrame } from '../types.js';

/** A script as the inspector announced it: its URL and its `sourceMappingURL`, if any. */
export interface ScriptSource {
  url: string;
  sourceMapURL: string;
}

/** A paused frame's position: 0-based, as the inspector gives it. */
export interface GeneratedPosition {
  functionName: string;
  line: number;
  column: number;
}

const MAX_CACHED = 200;
const maps = new Map<string, TraceMap | null>();

/** A paused frame as a StackFrame (1-based), at its original position when `sourceMaps`. */
export function toStackFrame(frame: GeneratedPosition, script: ScriptSource | undefined, sourceMaps: boolean): StackFrame {
  const url = script?.url ?? '';
  const generated: StackFrame = {
    function: frame.functionName || '<anonymous>',
    file: fileOf(url),
    line: frame.line + 1,
    column: frame.column + 1,
  };
  if (!sourceMaps || script === undefined || url.startsWith('node:')) return generated;
  const map = mapFor(script);
  return map === null ? generated : originalFrame(map, generated);
}

/** `frame` (1-based, generated) at its original position, or as it is when the map has none. */
function originalFrame(map: TraceMap, frame: StackFrame): StackFrame {
  const original = originalPositionFor(map, { line: frame.line, column: Math.max(0, frame.column - 1) });
  if (original.source === null || original.line === null) return frame;
  return { function: frame.function, file: fileOf(original.source), line: original.line, column: (original.column ?? 0) + 1 };
}

function mapFor(script: ScriptSource): TraceMap | null {
  const cached = maps.get(script.url);
  if (cached !== undefined) return cached;
  let map: TraceMap | null;
  try {
    map = loadMap(script);
  } catch {
    map = null;
  }
  if (maps.size >= MAX_CACHED) maps.delete(maps.keys().next().value as string);
  maps.set(script.url, map);
  return map;
}

function loadMap({ url, sourceMapURL }: ScriptSource): TraceMap | null {
  if (sourceMapURL === '') {
    // Without a sourceMappingURL comment Node may still hold a map (--enable-source-maps).
    const known = url.startsWith('file://') || isAbsolute(url) ? findSourceMap(fileOf(url)) : undefined;
    return known === undefined ? null : new TraceMap(known.payload as never, url);
  }
  if (sourceMapURL.startsWith('data:')) {
    const comma = sourceMapURL.indexOf(',');
    const header = sourceMapURL.slice(0, comma);
    const body = sourceMapURL.slice(comma + 1);
    const text = header.endsWith(';base64') ? Buffer.from(body, 'base64').toString('utf8') : decodeURIComponent(body);
    return new TraceMap(text, url);
  }
  const base = url.startsWith('file://') ? url : isAbsolute(url) ? pathToFileURL(url).href : undefined;
  if (base === undefined) return null;
  const mapUrl = new URL(sourceMapURL, base);
  if (mapUrl.protocol !== 'file:') return null;
  return new TraceMap(readFileSync(mapUrl, 'utf8'), mapUrl.href);
}

/**
 * Map frames parsed from an Error stack (the sync-call events), where only the file is known:
 * its map comes from the file's own `sourceMappingURL` comment. Frames Node already mapped
 * (`--enable-source-maps`, tsx) point at files without one and stay as they are.
 */
export function mapFileFrames(stack: readonly StackFrame[]): StackFrame[] {
  return stack.map((frame) => {
    if (!isAbsolute(frame.file)) return frame;
    const map = mapFor({ url: frame.file, sourceMapURL: sourceMapUrlOf(frame.file) });
    return map === null ? frame : originalFrame(map, frame);
  });
}

/** The `//# sourceMappingURL=` of a file on disk ('' when it has none or cannot be read). */
function sourceMapUrlOf(file: string): string {
  const cached = maps.get(file);
  if (cached !== undefined) return '';
  try {
    const text = readFileSync(file, 'utf8');
    const match = /\/\/[#@] sourceMappingURL=(\S+)\s*$/.exec(text.slice(-100_000));
    return match?.[1] ?? '';
  } catch {
    return '';
  }
}
