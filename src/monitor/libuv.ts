/**
 * The libuv thread-pool probe behind `stats().libuv`: how long a tiny piece of thread-pool work
 * waits for one of libuv's threads (fs, dns.lookup, crypto and zlib share UV_THREADPOOL_SIZE,
 * 4 by default). Node's own thread-pool exhaustion shows as nothing else: the loop stays idle
 * while every request that touches the disk, DNS or crypto quietly waits.
 */
import { randomFill } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { LibuvStats } from '../types.js';

/** Probes kept for the quantiles: the last minute, not since start. */
const WINDOW = 60;

/**
 * `crypto.randomFill` of one byte: measured here at ~11 µs of CPU per call (fs.access ~10–20,
 * fs.stat ~14–50, zlib.deflate ~55–140), it touches no file and no DNS, so fs or dns
 * instrumentation (OpenTelemetry's, loopguard's own sync-call wrappers) never sees it, and it
 * always runs on the thread pool.
 */
const PROBE = Buffer.alloc(1);

type Idle = ReturnType<typeof performance.eventLoopUtilization>;

export interface LibuvProbeOptions {
  /** ms: a wait longer than this is saturation (the monitor's threshold). */
  threshold: number;
  /** Called once per saturation episode, with the wait that started it. */
  onSaturated: (waitMs: number) => void;
}

export class LibuvProbe {
  readonly #threshold: number;
  readonly #onSaturated: (waitMs: number) => void;
  /** The waits of the last WINDOW probes, ms, oldest first. */
  readonly #waits: number[] = [];
  #saturatedMs = 0;
  #inEpisode = false;
  /** The probe in flight: when it was submitted, and the loop's idle time then. */
  #pending: { at: number; idle: Idle } | undefined;
  #stopped = false;

  constructor(options: LibuvProbeOptions) {
    this.#threshold = options.threshold;
    this.#onSaturated = options.onSaturated;
  }

  /**
   * One probe (or, with one still in the pool, a look at how long it has waited). No timer of
   * its own: the owner calls this once a second (the monitor does, first in a heartbeat, see
   * heartbeat.ts onSecond: a wake-up of an idle loop the beat makes anyway).
   */
  tick(): void {
    if (!this.#stopped) this.#probe();
  }

  stats(): LibuvStats {
    const sorted = this.#waits.slice().sort((a, b) => a - b);
    // A probe still waiting counts as it stands: a pool stuck for ten seconds shows now, not
    // once a thread frees up.
    const pending = this.#pending === undefined ? 0 : this.#waited(this.#pending);
    const max = Math.max(pending, sorted.at(-1) ?? 0);
    return {
      delay: { p50: round(quantile(sorted, 0.5)), p99: round(quantile(sorted, 0.99)), max: round(max) },
      saturatedMs: round(this.#saturatedMs + (pending > this.#threshold ? pending : 0)),
    };
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    // A probe still in the pool finishes in µs once a thread frees; its result is dropped.
    this.#pending = undefined;
  }

  #probe(): void {
    // One in flight at most: a saturated pool gets no queue of probes from us.
    if (this.#pending !== undefined) {
      // Still waiting: say so now rather than once a thread frees up.
      const waited = this.#waited(this.#pending);
      if (waited > this.#threshold) this.#enterEpisode(waited);
      return;
    }
    const pending = { at: performance.now(), idle: performance.eventLoopUtilization() };
    this.#pending = pending;
    randomFill(PROBE, () => {
      if (this.#pending !== pending) return;
      this.#pending = undefined;
      this.#record(this.#waited(pending));
    });
  }

  /**
   * The wait, without the loop's own lateness: the callback runs on the main loop, so a busy
   * loop delays it however free the pool is. Only the time the loop sat idle since the submit
   * counts: while the loop idles, a finished work item would have had its callback run, so
   * that time was spent waiting for (or on) a thread. Exact for an idle loop; a lower bound
   * when the loop is busy too, which the loop's own delay figures already show.
   */
  #waited(pending: { at: number; idle: Idle }): number {
    const elapsed = performance.now() - pending.at;
    const now = performance.eventLoopUtilization();
    const idle = now.idle - pending.idle.idle;
    return Math.max(0, Math.min(elapsed, idle));
  }

  #record(waitMs: number): void {
    this.#waits.push(waitMs);
    if (this.#waits.length > WINDOW) this.#waits.shift();
    if (waitMs > this.#threshold) {
      this.#saturatedMs += waitMs;
      this.#enterEpisode(waitMs);
    } else if (waitMs < this.#threshold / 2) {
      // Hysteresis: a wait hovering at the threshold is one episode, not a warning a second.
      this.#inEpisode = false;
    }
  }

  #enterEpisode(waitMs: number): void {
    if (this.#inEpisode) return;
    this.#inEpisode = true;
    try {
      this.#onSaturated(waitMs);
    } catch {
      // the warning is lost; the figures are not
    }
  }
}

/** The warning's fields and message: what saturated, and the two ways out. */
export function libuvWarning(waitMs: number): [fields: object, message: string] {
  const size = threadpoolSize();
  const wait = Math.round(waitMs);
  return [
    { kind: 'libuv-saturated', waitMs: wait, threads: size },
    `libuv's thread pool is saturated: a tiny fs/dns/crypto/zlib work item waited ${wait} ms for one of its ` +
      `${size} threads (UV_THREADPOOL_SIZE=${size}); raise UV_THREADPOOL_SIZE before start ` +
      `(UV_THREADPOOL_SIZE=16 node app.js) or move crypto/zlib work to loopguard's pool with threaded()`,
  ];
}

/** The threadpool size libuv uses here (it reads UV_THREADPOOL_SIZE once, at its first use). */
export function threadpoolSize(): number {
  const size = Number.parseInt(process.env['UV_THREADPOOL_SIZE'] ?? '', 10);
  // libuv clamps to 1..1024 and falls back to 4 for anything it cannot read.
  return Number.isFinite(size) && size > 0 ? Math.min(size, 1024) : 4;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
