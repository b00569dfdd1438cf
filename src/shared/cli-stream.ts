/**
 * The stream from an app to the `loopguard` CLI that started it: one JSON object per line, on
 * two inherited pipes, so the CLI holds what the summary and the report need however the app
 * ends (a signal, SIGKILL, out of memory: cases where the app itself can print nothing).
 *
 * Two pipes, one per writer: the app's main thread writes to the first, the watchdog thread to
 * the second. A write to a stream socket is not atomic once it is large or the buffer is full,
 * so two threads sharing one pipe could interleave their lines.
 *
 * Written by register (main thread) and by the watchdog thread, read by the CLI: this module
 * imports nothing thread-specific.
 */
import { fstatSync, writeSync } from 'node:fs';
import type { BlockEvent, DelayStats, LibuvStats, TimelinePoint } from '../types.js';
import type { RawFrame, ScriptInfo } from '../watchdog/protocol.js';

/**
 * Names the two descriptors to the app (`"3,4"`). register reads it and deletes it from
 * `process.env` at once, so processes the app starts never write to descriptors that are not
 * theirs.
 */
export const STREAM_ENV = 'LOOPGUARD_STREAM_FDS';

/** What the app's main thread writes. */
export type AppRecord =
  | {
      type: 'start';
      pid: number;
      command: string;
      node: string;
      threshold: number;
      hangTimeout: number;
      since: number;
      stacksAvailable: boolean;
    }
  /** Each block event as the monitor emitted it (stack cut to the frames a report keeps). */
  | { type: 'block'; event: BlockEvent }
  /**
   * The loop's figures now, and the timeline points since the last record. `final` is written
   * in process 'exit': nothing follows it.
   */
  | {
      type: 'stats';
      at: number;
      delay: DelayStats;
      utilization: number;
      /** stats().libuv; absent with the monitor's libuv: false. */
      libuv?: LibuvStats;
      timeline: TimelinePoint[];
      stacksAvailable: boolean;
      final: boolean;
    };

/** What the watchdog thread writes about a block while it is under way (the main thread is stuck). */
export type WatchdogRecord =
  /** The heartbeat `seq` went stale: a block started at `startedAt` (epoch ms) and is still on at `seenAt`. */
  | { type: 'stall'; seq: number; startedAt: number; seenAt: number; call?: string }
  /** The block's stack, as the watchdog captured it (the same material as its 'capture' message). */
  | {
      type: 'stack';
      seq: number;
      hang: boolean;
      stackText: string;
      frames: RawFrame[];
      scripts: Record<string, ScriptInfo>;
      context?: Record<string, unknown>;
    }
  /** The heartbeat moved again: the block is over and the main thread will report it. */
  | { type: 'resumed'; seq: number; at: number };

/** Parse `"3,4"`; undefined unless both are descriptors above stdio. */
export function parseStreamFds(value: string | undefined): { app: number; watchdog: number } | undefined {
  const match = /^(\d+),(\d+)$/.exec(value ?? '');
  if (match === null) return undefined;
  const app = Number(match[1]);
  const watchdog = Number(match[2]);
  return app > 2 && watchdog > 2 && app !== watchdog ? { app, watchdog } : undefined;
}

/** A pipe (libuv makes socket pairs) or a FIFO: never a file or a terminal someone else owns. */
export function isPipe(fd: number): boolean {
  try {
    const stat = fstatSync(fd);
    return stat.isSocket() || stat.isFIFO();
  } catch {
    return false;
  }
}

/**
 * Write one record; false once the CLI is gone (EPIPE) or the descriptor fails. Synchronous,
 * so it works from process 'exit' and from a thread whose peer is stuck.
 */
export function writeRecord(fd: number, record: AppRecord | WatchdogRecord): boolean {
  let line: string;
  try {
    line = `${JSON.stringify(record, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value))}\n`;
  } catch {
    return true; // a context that cannot be serialised (a cycle): skip this record, keep the stream
  }
  try {
    const bytes = Buffer.from(line);
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written);
    return true;
  } catch {
    return false;
  }
}
