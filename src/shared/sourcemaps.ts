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
import { originalPositionFor, presortedDecodedMap, TraceMap } from '@jridgewell/trace-mapping';
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
/**
 * ms of map parsing and decoding in one stretch before preloadMaps lets its thread's loop turn.
 * A map is decoded in slices of this (decodeMappings): one 60,000-line map took 250 ms in one
 * go (1.6 s on a loaded host), a block of loopguard's own on the main thread, and on the
 * watchdog a stretch in which it could not look at the heartbeat.
 */
const SLICE_MS = 4;
const maps = new Map<string, TraceMap | null>();

/**
 * A paused frame as a StackFrame (1-based), at its original position when `sourceMaps`; with
 * `load` false only through a map already in hand (none is read or decoded now).
 */
export function toStackFrame(frame: GeneratedPosition, script: ScriptSource | undefined, sourceMaps: boolean, load = true): StackFrame {
  const url = script?.url ?? '';
  const generated: StackFrame = {
    function: frame.functionName || '<anonymous>',
    file: fileOf(url),
    line: frame.line + 1,
    column: frame.column + 1,
  };
  if (!sourceMaps || script === undefined || url.startsWith('node:') || (!load && !maps.has(url))) return generated;
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
 * decoded a few ms' worth a turn (`setImmediate` between, a large map's mappings in slices:
 * decodeMappings; only the JSON.parse of one map is one stretch). Seen on
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
    const slice = { start: performance.now() };
    for (const { url, sourceMapURL, text } of read) {
      if (maps.has(url)) continue;
      if (performance.now() - slice.start > SLICE_MS) {
        await nextTurn();
        slice.start = performance.now();
        if (maps.has(url)) continue;
      }
      let map: TraceMap | null;
      try {
        const raw = text === undefined ? rawMapOf({ url, sourceMapURL }) : text === null ? null : { json: text.json, mapUrl: text.mapUrl };
        map = raw === null ? null : await slicedMap(raw.json, raw.mapUrl, slice);
      } catch {
        map = null;
      }
      if (!maps.has(url)) remember(url, map);
    }
  })();
}

/**
 * A TraceMap whose mappings are decoded here, in slices (trace-mapping would decode them all on
 * the first lookup, in the turn that maps the frames). `json` is the map's text or, from Node's
 * own cache, its parsed payload.
 */
async function slicedMap(json: string | object, mapUrl: string, slice: { start: number }): Promise<TraceMap> {
  const payload = (typeof json === 'string' ? JSON.parse(json) : json) as { mappings?: unknown };
  const mappings = typeof payload.mappings === 'string' ? await decodeMappings(payload.mappings, slice) : payload.mappings;
  // Sorted line by line while decoding: TraceMap would check (and copy) every line again in one go.
  return presortedDecodedMap({ ...payload, mappings } as never, mapUrl);
}

/** Base64 digit values of the VLQ alphabet, by char code; -1 elsewhere. */
const DIGITS = new Int8Array(128).fill(-1);
// (A code above 127 reads as undefined, so as -1 too.)
for (const [index, char] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries()) {
  DIGITS[char.charCodeAt(0)] = index;
}
/** Segments decoded between two looks at the clock (a look costs more than a segment). */
const SEGMENTS_PER_LOOK = 4096;

/**
 * A source map's `mappings` (Base64 VLQ, source map v3) as decoded segments per generated line,
 * each line sorted by column, yielding to the loop whenever a slice has run SLICE_MS
 * (`slice.start` is when the current one began, shared with the caller's own work). Counted in
 * segments, not lines: a minified bundle has a few lines of a million segments each. Throws on
 * a malformed string.
 */
export async function decodeMappings(mappings: string, slice: { start: number }): Promise<number[][][]> {
  const lines: number[][][] = [];
  let line: number[][] = [];
  let sorted = true;
  // Every field but the generated column runs on across lines; that one restarts per line.
  let column = 0;
  let source = 0;
  let sourceLine = 0;
  let sourceColumn = 0;
  let name = 0;
  let sinceLook = 0;
  let at = 0;
  const length = mappings.length;
  while (at <= length) {
    const code = at === length ? 59 : mappings.charCodeAt(at);
    if (code === 59 /* ; */) {
      if (!sorted) line.sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0));
      lines.push(line);
      line = [];
      sorted = true;
      column = 0;
      at += 1;
      continue;
    }
    if (code === 44 /* , */) {
      at += 1;
      continue;
    }
    // One segment: 1, 4 or 5 VLQ fields, up to the next ',' or ';'.
    const fields: number[] = [];
    while (at < length) {
      const next = mappings.charCodeAt(at);
      if (next === 44 || next === 59) break;
      let value = 0;
      let shift = 0;
      let digit: number;
      do {
        digit = DIGITS[mappings.charCodeAt(at)] ?? -1;
        if (digit < 0 || shift > 30) throw new Error(`invalid mappings at ${at}`);
        value |= (digit & 31) << shift;
        shift += 5;
        at += 1;
      } while ((digit & 32) !== 0);
      fields.push((value & 1) === 1 ? -(value >>> 1) : value >>> 1);
    }
    const previous = column;
    column += fields[0] ?? 0;
    if (column < previous) sorted = false;
    if (fields.length === 1) {
      line.push([column]);
    } else if (fields.length === 4 || fields.length === 5) {
      source += fields[1] ?? 0;
      sourceLine += fields[2] ?? 0;
      sourceColumn += fields[3] ?? 0;
      if (fields.length === 4) {
        line.push([column, source, sourceLine, sourceColumn]);
      } else {
        name += fields[4] ?? 0;
        line.push([column, source, sourceLine, sourceColumn, name]);
      }
    } else {
      throw new Error(`invalid mappings at ${at}`);
    }
    sinceLook += 1;
    if (sinceLook >= SEGMENTS_PER_LOOK) {
      sinceLook = 0;
      if (performance.now() - slice.start > SLICE_MS) {
        await nextTurn();
        slice.start = performance.now();
      }
    }
  }
  return lines;
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

function loadMap(script: ScriptSource): TraceMap | null {
  const raw = rawMapOf(script);
  if (raw !== null) return new TraceMap(raw.json as never, raw.mapUrl);
  const mapUrl = script.sourceMapURL === '' || script.sourceMapURL.startsWith('data:') ? undefined : mapFileUrl(script);
  return mapUrl === undefined ? null : new TraceMap(readFileSync(mapUrl, 'utf8'), mapUrl.href);
}

/**
 * The map a script carries without a file to read: Node's own (its parsed payload) when there
 * is no sourceMappingURL, or an inline data URL's text; null otherwise.
 */
function rawMapOf({ url, sourceMapURL }: ScriptSource): { json: string | object; mapUrl: string } | null {
  if (sourceMapURL === '') {
    // Without a sourceMappingURL comment Node may still hold a map (--enable-source-maps).
    const known = url.startsWith('file://') || isAbsolute(url) ? findSourceMap(fileOf(url)) : undefined;
    return known === undefined ? null : { json: known.payload, mapUrl: url };
  }
  if (sourceMapURL.startsWith('data:')) {
    const comma = sourceMapURL.indexOf(',');
    const header = sourceMapURL.slice(0, comma);
    const body = sourceMapURL.slice(comma + 1);
    const text = header.endsWith(';base64') ? Buffer.from(body, 'base64').toString('utf8') : decodeURIComponent(body);
    return { json: text, mapUrl: url };
  }
  return null;
}

/**
 * Map frames parsed from an Error stack (the sync-call events), where only the file is known:
 * its map comes from the file's own `sourceMappingURL` comment. Frames Node already mapped
 * (`--enable-source-maps`, tsx) point at files without one and stay as they are. With `load`
 * false, only through maps already in hand (preloadMaps): none is read or decoded now.
 */
export function mapFileFrames(stack: readonly StackFrame[], load = true): StackFrame[] {
  return stack.map((frame) => {
    if (!isAbsolute(frame.file) || (!load && !maps.has(frame.file))) return frame;
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
