/**
 * The stacks a long block went through: the watchdog takes a fresh one now and then while the
 * heartbeat stays stale, so a hang that moves from one function to another reports where it is
 * now (the latest) and where it has been (the distinct ones, oldest first). Used by the main
 * thread for the block's event and by the watchdog for its hang reports.
 */
import type { StackFrame } from '../types.js';
import { mapFileFrames, preloadMaps, toStackFrame, type GeneratedPosition, type ScriptSource } from './sourcemaps.js';
import { parseStack } from './stack-text.js';

/** The file V8 gives code evaluated through the inspector (the stack expression's own frames). */
const EVALUATED = '<anonymous>';
/** Distinct stacks kept per block: the first, and the most recent after it. */
export const MAX_STACKS = 8;

/**
 * The frames of the watchdog's stack text, without the evaluated expression's own, mapped when
 * `sourceMaps`; undefined when it holds nothing but those or nothing but Node's own frames (the
 * loop's code that ran after the block, not what blocked). With `load` false, mapped only
 * through maps already in hand.
 */
export function framesOfStackText(text: string, sourceMaps: boolean, load = true): StackFrame[] | undefined {
  const parsed = parseStack(text);
  const first = parsed.findIndex((frame) => frame.file !== EVALUATED);
  if (first === -1) return undefined;
  const frames = parsed
    .slice(first)
    // `Timeout.run [as _onTimeout]`: the alias says how it was called, not what it is.
    .map((frame) => ({ ...frame, function: frame.function.replace(/ \[as [^\]]+\]$/, '') }));
  const stack = sourceMaps ? mapFileFrames(frames, load) : frames;
  if (stack.length > 0 && stack.every((frame) => frame.file.startsWith('node:'))) return undefined;
  return stack;
}

/** What a capture holds: the quick stack text, else the paused frames and their scripts. */
export interface CapturedStack {
  stackText: string;
  frames: ReadonlyArray<GeneratedPosition & { scriptId: string }>;
  scripts: Record<string, ScriptSource>;
}

/**
 * A capture's stack: the quick stack text's frames when it has one, else the paused frames;
 * undefined when it holds nothing but Node's own frames (the capture landed after the block).
 */
export function framesOfCapture(capture: CapturedStack, sourceMaps: boolean, load = true): StackFrame[] | undefined {
  if (capture.stackText !== '') return framesOfStackText(capture.stackText, sourceMaps, load);
  const stack = capture.frames.map((frame) => toStackFrame(frame, capture.scripts[frame.scriptId], sourceMaps, load));
  if (stack.length > 0 && stack.every((frame) => frame.file.startsWith('node:'))) return undefined;
  return stack;
}

/**
 * framesOfCapture, mapped, once the maps it needs are read and decoded a few ms a turn
 * (sourcemaps.ts preloadMaps): the thread doing it is never held for a whole large map.
 */
export async function mapCapture(capture: CapturedStack): Promise<StackFrame[] | undefined> {
  const files = capture.stackText === '' ? [] : parseStack(capture.stackText).map((frame) => frame.file);
  const scripts = capture.stackText !== '' ? [] : capture.frames.flatMap((frame) => capture.scripts[frame.scriptId] ?? []);
  await preloadMaps(files, scripts);
  return framesOfCapture(capture, true);
}

/**
 * Stacks are the same when they run the same functions in the same files: the line moves on
 * every sample of a loop, and would make every sample "distinct". Node's own frames and the
 * receiver in a name (`process.<anonymous>`) are left out: the stack text and the paused frames
 * (hang reports) spell those differently for the same code.
 */
function keyOf(stack: readonly StackFrame[]): string {
  return stack
    .filter((frame) => !frame.file.startsWith('node:'))
    .map((frame) => `${frame.function.split('.').pop() ?? ''}\0${frame.file}`)
    .join('\n');
}

export class StackTrail {
  readonly #entries: Array<{ key: string; at: number; stack: StackFrame[] }> = [];
  #latest: { at: number; stack: StackFrame[]; late: boolean } | undefined;
  #samples = 0;

  /** A stack taken at `at` (epoch ms); `late` when it was taken after the blocking work ended. */
  add(at: number, stack: StackFrame[], late = false): void {
    if (stack.length === 0) return;
    this.#samples += 1;
    if (this.#latest === undefined || at >= this.#latest.at) this.#latest = { at, stack, late };
    const key = keyOf(stack);
    if (this.#entries.some((entry) => entry.key === key)) return;
    this.#entries.push({ key, at, stack });
    this.#entries.sort((a, b) => a.at - b.at);
    // Keep the first (where it began) and the most recent ones.
    if (this.#entries.length > MAX_STACKS) this.#entries.splice(1, 1);
  }

  /** Stacks added (with repeats). */
  get samples(): number {
    return this.#samples;
  }

  get latest(): { at: number; stack: StackFrame[]; late: boolean } | undefined {
    return this.#latest;
  }

  /** The distinct stacks, oldest first. */
  stacks(): StackFrame[][] {
    return this.#entries.map((entry) => entry.stack);
  }

  /** When each of `stacks()` was first seen, epoch ms. */
  seenAt(): number[] {
    return this.#entries.map((entry) => Math.round(entry.at));
  }
}
