/**
 * The watchdog's half of the stream to the `loopguard` CLI (shared/cli-stream.ts): while the
 * main thread is stuck only this thread can tell the CLI that a block is under way and where,
 * so the CLI can count it even if the app is killed before the block ends.
 * register puts the descriptor in Slot.STREAM_FD; 0 (no CLI) makes every call here a no-op.
 */
import { writeRecord, type WatchdogRecord } from '../../shared/cli-stream.js';
import { Slot, type RawFrame, type ScriptInfo } from '../protocol.js';

export class CliStream {
  readonly #shared: Int32Array;
  #broken = false;
  /** The heartbeat value of the block the CLI was told about and not yet told is over. */
  #open: number | undefined;

  constructor(shared: Int32Array) {
    this.#shared = shared;
  }

  /** Once per block: called on every look while the heartbeat is stale. */
  stall(seq: number, staleMs: number, call: string | undefined): void {
    if (this.#open === seq) return;
    const now = Date.now();
    if (this.#write({ type: 'stall', seq, startedAt: Math.round(now - staleMs), seenAt: now, ...(call === undefined ? {} : { call }) })) {
      this.#open = seq;
    }
  }

  stack(seq: number, hang: boolean, found: { stackText: string; frames: RawFrame[]; scripts: Record<string, ScriptInfo>; context: Record<string, unknown> | undefined }): void {
    if (this.#open !== seq) return;
    const { context, ...rest } = found;
    this.#write({ type: 'stack', seq, hang, ...rest, ...(context === undefined ? {} : { context }) });
  }

  /** The heartbeat moved. */
  beat(): void {
    if (this.#open === undefined) return;
    this.#write({ type: 'resumed', seq: this.#open, at: Date.now() });
    this.#open = undefined;
  }

  #write(record: WatchdogRecord): boolean {
    if (this.#broken) return false;
    const fd = Atomics.load(this.#shared, Slot.STREAM_FD);
    if (fd === 0) return false;
    // The CLI is gone: stop trying (and never block on a dead peer).
    if (!writeRecord(fd, record)) this.#broken = true;
    return !this.#broken;
  }
}
