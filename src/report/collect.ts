/**
 * The one place report data is gathered: the exit summary, the HTML page and the JSON file
 * are all rendered from the plain object `collectReport()` returns.
 */
import { describeStack, labelOf, routeOf } from '../shared/frames.js';
import { displayFile } from '../shared/paths.js';
import type { BlockerSummary, BlockEvent, LoopStats, Monitor, TimelinePoint } from '../types.js';

/** One block as kept for the report: enough to mark it on the timeline and name it. */
export interface ReportBlock {
  kind: BlockEvent['kind'];
  startedAt: number;
  duration: number;
  cause: BlockEvent['cause'];
  /**
   * As a top blocker's `label`: `'fn (file:line)'` of the app's own innermost frame, after the
   * library that was running (`'slow-crypt.digestSync via verifyChecksum (…)'`); the API name
   * or `'<unknown>'` without a stack.
   */
  site: string;
  /** `'GET /users/:id'`, the context's name, or undefined outside any request/task. */
  request?: string;
  call?: string;
  /** The stack was taken after the blocking work ended (BlockEvent `stackLate`): the site may name what ran next. */
  stackLate?: true;
  /**
   * BlockEvent `phase`: a block of the app's start-up (before the first server listened, under
   * register/CLI), so that a reader of the file can tell it from the blocks of serving.
   */
  phase?: 'startup';
}

export interface ReportData {
  /** Bumped when the shape changes incompatibly. */
  version: 1;
  pid: number;
  /** The script the process ran, e.g. `app.mjs`. */
  command: string;
  node: string;
  /** Epoch ms: the monitor's window start, and when the report was taken. */
  since: number;
  generatedAt: number;
  threshold: number;
  stacksAvailable: boolean;
  stats: LoopStats;
  timeline: TimelinePoint[];
  /** The most recent blocks (bounded: see `blocksDropped`). */
  blocks: ReportBlock[];
  blocksDropped: number;
  /** `route`: the adapter's route, or without one the method and path seen for this site. */
  topBlockers: BlockerSummary[];
}

/** Keeps the latest block events so reports can place them in time (topBlockers cannot). */
export interface BlockRecorder {
  readonly events: readonly BlockEvent[];
  readonly dropped: number;
  stop(): void;
}

const MAX_FRAMES_KEPT = 30;

export function recordBlocks(monitor: Monitor, limit = 500): BlockRecorder {
  const events: BlockEvent[] = [];
  let dropped = 0;
  const listener = (event: BlockEvent): void => {
    events.push({ ...event, stack: event.stack.slice(0, MAX_FRAMES_KEPT) });
    if (events.length > limit) {
      events.shift();
      dropped += 1;
    }
  };
  monitor.on('block', listener);
  return {
    events,
    get dropped() {
      return dropped;
    },
    stop() {
      monitor.off('block', listener);
    },
  };
}

/**
 * What a report is read from: the running monitor, or (in the `loopguard` CLI) the collector
 * fed by the app's stream.
 */
export type ReportSource = Pick<Monitor, 'threshold' | 'stacksAvailable' | 'stats' | 'topBlockers' | 'timeline'>;

/** The process the report is about, and when it was taken (this process, now, by default). */
export interface ReportSubject {
  pid: number;
  command: string;
  node: string;
  generatedAt: number;
}

export function collectReport(
  monitor: ReportSource,
  recorder?: Pick<BlockRecorder, 'events' | 'dropped'>,
  topLimit = 10,
  subject: ReportSubject = { pid: process.pid, command: scriptName(), node: process.version, generatedAt: Date.now() },
): ReportData {
  const stats = monitor.stats();
  const events = recorder?.events ?? [];
  const blocks = events.map(toReportBlock);
  const topBlockers = monitor.topBlockers(topLimit).map((blocker): BlockerSummary => {
    const result: BlockerSummary = {
      site: blocker.site,
      label: blocker.label,
      count: blocker.count,
      totalMs: blocker.totalMs,
      maxMs: blocker.maxMs,
      stack: blocker.stack.slice(0, MAX_FRAMES_KEPT),
    };
    // Only the blocker's own route: a block that had no request is never given another's.
    if (blocker.route !== undefined) result.route = blocker.route;
    if (blocker.library !== undefined) result.library = blocker.library;
    return result;
  });
  return {
    version: 1,
    pid: subject.pid,
    command: subject.command,
    node: subject.node,
    since: stats.since,
    generatedAt: subject.generatedAt,
    threshold: monitor.threshold,
    stacksAvailable: monitor.stacksAvailable,
    stats,
    timeline: monitor.timeline(),
    blocks,
    blocksDropped: recorder?.dropped ?? 0,
    topBlockers,
  };
}

function toReportBlock(event: BlockEvent): ReportBlock {
  const info = describeStack(event.stack, event.call);
  const block: ReportBlock = {
    kind: event.kind,
    startedAt: event.startedAt,
    duration: event.duration,
    cause: event.cause,
    // The same as a top blocker's row shows it: the library that ran, via the app's own function.
    site: labelOf(info.site, info.library, info.entry),
  };
  const request = routeOf(event.context);
  if (request !== undefined) block.request = request;
  if (event.call !== undefined) block.call = event.call;
  if (event.stackLate === true) block.stackLate = true;
  if (event.phase === 'startup') block.phase = 'startup';
  return block;
}

/** The script this process runs, as the report names it (`app.mjs`). */
export function scriptName(): string {
  const script = process.argv[1];
  return script === undefined ? process.argv0 : displayFile(script);
}
