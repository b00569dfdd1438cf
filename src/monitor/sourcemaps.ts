/**
 * Mapping captured frames to original positions. Only reported frames are mapped, lazily,
 * each script's map parsed once. The inspector always gives generated positions (even when
 * `--enable-source-maps` maps Error stacks), and `Debugger.scriptParsed` tells us each
 * script's `sourceMappingURL`: a file next to it (tsup's `.map`) or an inline data URL (tsx).
 */
import { readFileSync } from 'node:fs';
import { findSourceMap } from 'node:module';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { originalPositionFor, TraceMap } from '@jridgewell/trace-mapping';
import type { StackFrame } from '../types.js';
import type { RawFrame, ScriptInfo } from '../watchdog/protocol.js';

const MAX_CACHED = 200;
const maps = new Map<string, TraceMap | null>();

/** A frame's file: a path for file URLs, else the URL as given (`node:internal/...`). */
export function fileOf(url: string): string {
  if (!url.startsWith('file://')) return url;
  try {
    return fileURLToPath(url);
  } catch {
    return url;
  }
}

export function toStackFrames(
  frames: readonly RawFrame[],
  scripts: Readonly<Record<string, ScriptInfo>>,
  sourceMaps: boolean,
): StackFrame[] {
  return frames.map((frame) => {
    const script = scripts[frame.scriptId];
    const url = script?.url ?? '';
    const generated: StackFrame = {
      function: frame.functionName || '<anonymous>',
      file: fileOf(url),
      line: frame.line + 1,
      column: frame.column + 1,
    };
    if (!sourceMaps || script === undefined || url.startsWith('node:')) return generated;
    const map = mapFor(script);
    if (map === null) return generated;
    const original = originalPositionFor(map, { line: frame.line + 1, column: frame.column });
    if (original.source === null || original.line === null) return generated;
    return {
      function: generated.function,
      file: fileOf(original.source),
      line: original.line,
      column: (original.column ?? 0) + 1,
    };
  });
}

function mapFor(script: ScriptInfo): TraceMap | null {
  const cached = maps.get(script.url);
  if (cached !== undefined) return cached;
  let map: TraceMap | null = null;
  try {
    map = loadMap(script);
  } catch {
    map = null;
  }
  if (maps.size >= MAX_CACHED) maps.delete(maps.keys().next().value as string);
  maps.set(script.url, map);
  return map;
}

function loadMap({ url, sourceMapURL }: ScriptInfo): TraceMap | null {
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
  const base = url.startsWith('file://') ? url : isAbsolute(url) ? `file://${url}` : undefined;
  if (base === undefined) return null;
  const mapUrl = new URL(sourceMapURL, base);
  if (mapUrl.protocol !== 'file:') return null;
  return new TraceMap(readFileSync(mapUrl, 'utf8'), mapUrl.href);
}

/** Forget cached maps (files may have been rebuilt). */
export function clearSourceMapCache(): void {
  maps.clear();
}
