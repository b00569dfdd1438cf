/**
 * The `loopguard` CLI's copy of the app's numbers, fed by the app's stream
 * (shared/cli-stream.ts). It answers what a report reads from a monitor (report/collect.ts), so
 * the CLI renders the same summary and report the app would have, however the app ended.
 *
 * Blocks are counted by the monitor's own aggregation, from the events the app streamed. A
 * block still under way when the app died (killed mid-block, stuck in a loop) was never
 * emitted by the app: the watchdog thread's records say when it started and where it was,
 * and `end()` counts it as the app would have.
 *
 * A block the watchdog saw end ('resumed') is the app's to report, which it does within a turn
 * of its loop: it is counted from the watchdog's records only when the app died right after it
 * (within ENDED_JUST_BEFORE_MS) without reporting it. Not later ones: on a busy host the
 * watchdog's own thread can be descheduled and see a stale heartbeat that the main thread,
 * measuring the gap itself, rightly did not count.
 */
import { named } from '../shared/frames.js';
import { Aggregates } from '../monitor/aggregates.js';
import type { AppRecord, WatchdogRecord } from '../shared/cli-stream.js';
import { mapFileFrames, toStackFrame } from '../shared/sourcemaps.js';
import { ANONYMOUS, parseStack } from '../shared/stack-text.js';
import type { ReportSource, ReportSubject } from '../report/collect.js';
import type { BlockEvent, BlockerSummary, DelayStats, LibuvStats, LoopStats, StackFrame, TimelinePoint } from '../types.js';

const MAX_EVENTS = 500;
const TIMELINE_LENGTH = 3600;
const MAX_STALLS = 4;
/** Clock rounding between the two threads' timestamps. */
const SLACK_MS = 20;
const ENDED_JUST_BEFORE_MS = 1000;

type StartRecord = Extract<AppRecord, { type: 'start' }>;
type StackRecord = Extract<WatchdogRecord, { type: 'stack' }>;

interface Stall {
  seq: number;
  startedAt: number;
  seenAt: number;
  call?: string;
  stack?: StackRecord;
  hang: boolean;
  resumedAt?: number;
}

export class StreamCollector implements ReportSource {
  #start: StartRecord | undefined;
  #final = false;
  readonly #aggregates = new Aggregates();
  readonly events: BlockEvent[] = [];
  dropped = 0;
  #delay: DelayStats = { min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 };
  #utilization = 0;
  #libuv: LibuvStats | undefined;
  /** When the app's last stats record was taken (its figures cover `since` up to here). */
  #statsAt: number | undefined;
  #timeline: TimelinePoint[] = [];
  #stacksAvailable = false;
  readonly #stalls: Stall[] = [];

  /** The app's register started streaming (without it there is nothing to report). */
  get started(): boolean {
    return this.#start !== undefined;
  }

  /** The app wrote its final record in process 'exit'. */
  get finished(): boolean {
    return this.#final;
  }

  get threshold(): number {
    return this.#start?.threshold ?? 0;
  }

  get stacksAvailable(): boolean {
    return this.#stacksAvailable;
  }

  app(record: AppRecord): void {
    switch (record.type) {
      case 'start':
        this.#start = record;
        this.#stacksAvailable = record.stacksAvailable;
        break;
      case 'block':
        this.#add(record.event);
        if (record.event.kind !== 'sync-call') {
          this.#forgetStallsOf(record.event);
          // As the app's own delay.max will (monitor/delay.ts), before its next stats record.
          this.#delay = { ...this.#delay, max: Math.max(this.#delay.max, record.event.duration) };
        }
        break;
      case 'stats':
        this.#delay = record.delay;
        this.#utilization = record.utilization;
        if (record.libuv !== undefined) this.#libuv = record.libuv;
        this.#statsAt = record.at;
        this.#stacksAvailable = record.stacksAvailable;
        this.#timeline.push(...record.timeline);
        if (this.#timeline.length > TIMELINE_LENGTH) this.#timeline.splice(0, this.#timeline.length - TIMELINE_LENGTH);
        if (record.final) this.#final = true;
        break;
    }
  }

  watchdog(record: WatchdogRecord): void {
    if (record.type === 'stall') {
      const { seq, startedAt, seenAt, call } = record;
      this.#stalls.push({ seq, startedAt, seenAt, hang: false, ...(call === undefined ? {} : { call }) });
      if (this.#stalls.length > MAX_STALLS) this.#stalls.shift();
      return;
    }
    const index = this.#stalls.findIndex((candidate) => candidate.seq === record.seq);
    const stall = this.#stalls[index];
    if (stall === undefined) return;
    if (record.type === 'resumed') {
      stall.resumedAt = record.at;
      return;
    }
    stall.stack = record;
    if (record.hang) stall.hang = true;
  }

  /** The app has ended at `endedAt` (epoch ms): count the block it died in (or just after). */
  end(endedAt: number): void {
    for (const stall of this.#stalls.splice(0)) {
      if (stall.resumedAt !== undefined && endedAt - stall.resumedAt > ENDED_JUST_BEFORE_MS) continue;
      const duration = Math.round((stall.resumedAt ?? endedAt) - stall.startedAt);
      if (duration < this.threshold) continue;
      const stack = stall.stack === undefined ? [] : stackOf(stall.stack);
      const hangTimeout = this.#start?.hangTimeout ?? 0;
      // The app's entry module is not this process's: no start-up judged from here.
      const event: BlockEvent = named(
        {
          kind: stall.hang || (hangTimeout > 0 && duration >= hangTimeout) ? 'hang' : 'block',
          duration,
          threshold: this.threshold,
          startedAt: stall.startedAt,
          stack,
          cause: stall.call !== undefined ? 'native' : stack.length > 0 ? 'js' : 'unknown',
        },
        { startup: false },
      );
      if (stall.stack?.context !== undefined) event.context = stall.stack.context;
      if (stall.call !== undefined) event.call = stall.call;
      this.#add(named(event, { startup: false }));
      // stats().delay.max includes every measured block (monitor/delay.ts): this one too.
      this.#delay = { ...this.#delay, max: Math.max(this.#delay.max, duration) };
      if (stall.resumedAt === undefined) this.#addStuckTail(stall.startedAt, endedAt, duration);
    }
  }

  /**
   * The app died stuck: its last stats record predates the block, so the loop's busy time
   * since then, and a timeline point for it, come from the block itself (a hung app's summary
   * would otherwise read "utilization 0%" for a loop that was busy all along).
   */
  #addStuckTail(startedAt: number, endedAt: number, duration: number): void {
    const since = this.#start?.since;
    if (since === undefined || endedAt <= since) return;
    const coveredUntil = Math.max(since, Math.min(this.#statsAt ?? since, endedAt));
    const stuckFrom = Math.max(startedAt, coveredUntil);
    const busy = this.#utilization * (coveredUntil - since) + (endedAt - stuckFrom);
    this.#utilization = Math.min(1, busy / (endedAt - since));
    this.#timeline.push({ t: endedAt, p50: duration, p99: duration, max: duration, utilization: 1 });
    if (this.#timeline.length > TIMELINE_LENGTH) this.#timeline.shift();
  }

  subject(endedAt: number): ReportSubject {
    return {
      pid: this.#start?.pid ?? 0,
      command: this.#start?.command ?? '',
      node: this.#start?.node ?? '',
      generatedAt: endedAt,
    };
  }

  stats(): LoopStats {
    return {
      delay: { ...this.#delay },
      utilization: this.#utilization,
      blocks: this.#aggregates.blocks(),
      routes: this.#aggregates.routes(),
      startup: this.#aggregates.startup(),
      host: this.#aggregates.host(),
      own: this.#aggregates.own(),
      since: this.#start?.since ?? 0,
      ...(this.#libuv === undefined ? {} : { libuv: { delay: { ...this.#libuv.delay }, saturatedMs: this.#libuv.saturatedMs } }),
    };
  }

  topBlockers(limit = 10): BlockerSummary[] {
    return this.#aggregates.top(limit);
  }

  timeline(): TimelinePoint[] {
    return this.#timeline.slice();
  }

  #add(event: BlockEvent): void {
    this.#aggregates.add(event);
    this.events.push(event);
    if (this.events.length > MAX_EVENTS) {
      this.events.shift();
      this.dropped += 1;
    }
  }

  /** The watchdog saw a stall while this block was under way: it is the same block. */
  #forgetStallsOf(event: BlockEvent): void {
    const from = event.startedAt - SLACK_MS;
    const to = event.startedAt + event.duration + SLACK_MS;
    for (let index = this.#stalls.length - 1; index >= 0; index -= 1) {
      const seenAt = this.#stalls[index]?.seenAt ?? 0;
      if (seenAt >= from && seenAt <= to) this.#stalls.splice(index, 1);
    }
  }
}

/**
 * The watchdog's stack in the form the monitor would have reported (monitor/blocks.ts): the
 * quick stack text when there is one, else the paused frames, source-mapped.
 */
function stackOf(record: StackRecord): StackFrame[] {
  if (record.stackText !== '') {
    const parsed = parseStack(record.stackText);
    // The evaluated expression's own frames come first.
    const first = parsed.findIndex((frame) => frame.file !== ANONYMOUS);
    const frames = (first === -1 ? [] : parsed.slice(first)).map((frame) => ({
      ...frame,
      function: frame.function.replace(/ \[as [^\]]+\]$/, ''),
    }));
    if (frames.length > 0) return mapFileFrames(frames);
  }
  return record.frames.map((frame) => toStackFrame(frame, record.scripts[frame.scriptId], true));
}
