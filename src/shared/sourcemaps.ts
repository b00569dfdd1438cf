/**
 * Mapping captured frames to original positions, shared by the main thread (block events)
 * and the watchdog thread (hang reports): it imports nothing from either side. Only reported
 * frames are mapped, lazily, each script's map parsed once. The inspector always gives
 * generated positions (even when `--enable-source-maps` maps Error stacks), and
 * `Debugger.scriptParsed` tells us each script's `sourceMappingURL`: a file next to it
 * (tsup's `.map`) or an inline data URL (tsx).
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
// From node:timers, not the global: a test's fake timers must not hold up the monitor's events.
import { setImmediate } from 'node:timers';
import { findSourceMap } from 'node:module';
import { isAbsolute } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { decodedMappings, originalPositionFor, TraceMap } from '@jridgewell/trace-mapping';
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
/** ms of map parsing and decoding in one turn of the loop before preloadMaps lets it turn. */
const TURN_BUDGET_MS = 8;
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
  remember(script.url, map);
  return map;
}

function remember(url: string, map: TraceMap | null): void {
  if (maps.size >= MAX_CACHED) maps.delete(maps.keys().next().value as string);
  maps.set(url, map);
}

/**
 * Loads the maps that mapping `files` (frames of a stack text, {@link mapFileFrames}) or
 * `scripts` (paused frames, {@link toStackFrame}) will need, so that the main thread never reads
 * them in a long stretch of its loop: files are read asynchronously, and maps are parsed and
 * decoded a few ms' worth a turn (`setImmediate` between; one large map is still one stretch). Seen on
 * Verdaccio: mapping a block's 30 frames read and decoded a dozen maps in one go, a block of
 * its own that was blamed on the app. Resolves once they are in hand; undefined when they all
 * are already. Never rejects: a map that cannot be read is remembered as none.
 */
export function preloadMaps(files: Iterable<string>, scripts: Iterable<ScriptSource> = []): Promise<void> | undefined {
  const wanted = new Map<string, ScriptSource | undefined>();
  for (const file of files) if (isAbsolute(file) && !maps.has(file)) wanted.set(file, undefined);
  for (const script of scripts) if (!script.url.startsWith('node:') && !maps.has(script.url)) wanted.set(script.url, script);
  if (wanted.size === 0) return undefined;
  return (async () => {
    // Every file at once: libuv's threads read them, off the loop.
    const read = await Promise.all(
      [...wanted].map(async ([url, script]) => {
        try {
          const sourceMapURL = script?.sourceMapURL ?? (await sourceMapUrlOfAsync(url));
          return { url, sourceMapURL, text: await mapTextOf({ url, sourceMapURL }) };
        } catch {
          return { url, sourceMapURL: '', text: null };
        }
      }),
    );
    // Parsed and decoded a few ms' worth at a time: a turn per map made a block's event wait
    // for as many turns of a loop that a busy service blocks on every request.
    let turnStart = performance.now();
    for (const { url, sourceMapURL, text } of read) {
      if (maps.has(url)) continue;
      if (performance.now() - turnStart > TURN_BUDGET_MS) {
        await nextTurn();
        turnStart = performance.now();
        if (maps.has(url)) continue;
      }
      let map: TraceMap | null;
      try {
        map = text === undefined ? loadMap({ url, sourceMapURL }) : text === null ? null : new TraceMap(text.json, text.mapUrl);
        // trace-mapping decodes the mappings on the first lookup: here, not in the turn that
        // maps the frames.
        if (map !== null) decodedMappings(map);
      } catch {
        map = null;
      }
      remember(url, map);
    }
  })();
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A map file's text, read asynchronously; undefined where loadMap needs no file (an inline
 * data URL, or one Node already holds), null where there is none to read.
 */
async function mapTextOf(script: ScriptSource): Promise<{ json: string; mapUrl: string } | null | undefined> {
  if (script.sourceMapURL === '' || script.sourceMapURL.startsWith('data:')) return undefined;
  const mapUrl = mapFileUrl(script);
  if (mapUrl === undefined) return null;
  return { json: await readFile(mapUrl, 'utf8'), mapUrl: mapUrl.href };
}

/** The file a script's (non-inline) sourceMappingURL names; undefined where it is no local file. */
function mapFileUrl({ url, sourceMapURL }: ScriptSource): URL | undefined {
  const base = url.startsWith('file://') ? url : isAbsolute(url) ? pathToFileURL(url).href : undefined;
  if (base === undefined) return undefined;
  const mapUrl = new URL(sourceMapURL, base);
  return mapUrl.protocol === 'file:' ? mapUrl : undefined;
}

async function sourceMapUrlOfAsync(file: string): Promise<string> {
  try {
    return sourceMapUrlIn(await readFile(file, 'utf8'));
  } catch {
    return '';
  }
}

function sourceMapUrlIn(text: string): string {
  const match = /\/\/[#@] sourceMappingURL=(\S+)\s*$/.exec(text.slice(-100_000));
  return match?.[1] ?? '';
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
  const mapUrl = mapFileUrl({ url, sourceMapURL });
  return mapUrl === undefined ? null : new TraceMap(readFileSync(mapUrl, 'utf8'), mapUrl.href);
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
    return sourceMapUrlIn(readFileSync(file, 'utf8'));
  } catch {
    return '';
  }
}
