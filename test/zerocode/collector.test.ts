// The CLI's copy of the app's numbers: blocks the app streamed are counted once, and only the
// block still under way when the app died is added from the watchdog's records.
import { describe, expect, it } from 'vitest';
import type { AppRecord } from '../../src/shared/cli-stream.js';
import { StreamCollector } from '../../src/zero-code/collector.js';
import type { BlockEvent } from '../../src/types.js';

const start: AppRecord = {
  type: 'start',
  pid: 4242,
  command: 'app.mjs',
  node: 'v20.20.2',
  threshold: 50,
  hangTimeout: 300,
  since: 1_000_000,
  stacksAvailable: true,
};

const stackText = [
  'Error',
  '    at <anonymous>:1:1',
  '    at buildIndex (file:///srv/app/search/index-builder.mjs:7:42)',
  '    at reindex (file:///srv/app/server.mjs:11:10)',
].join('\n');

function block(startedAt: number, duration: number): BlockEvent {
  return {
    kind: 'block',
    duration,
    threshold: 50,
    startedAt,
    stack: [{ function: 'renderInvoice', file: '/srv/app/invoice.mjs', line: 9, column: 3 }],
    cause: 'js',
  };
}

describe('StreamCollector', () => {
  it('counts a block the app reported once, though the watchdog saw it too', () => {
    const collector = new StreamCollector();
    collector.app(start);
    collector.watchdog({ type: 'stall', seq: 7, startedAt: 1_000_100, seenAt: 1_000_160 });
    collector.watchdog({ type: 'resumed', seq: 7, at: 1_000_420 });
    collector.app({ type: 'block', event: block(1_000_100, 320) });
    collector.end(1_000_500);
    expect(collector.stats().blocks).toEqual({ count: 1, totalMs: 320, longestMs: 320 });
    expect(collector.events).toHaveLength(1);
  });

  it('counts the block under way when the app died, with the watchdog\'s stack, as a hang past the hang timeout', () => {
    const collector = new StreamCollector();
    collector.app(start);
    collector.watchdog({ type: 'stall', seq: 9, startedAt: 1_002_000, seenAt: 1_002_060 });
    collector.watchdog({ type: 'stack', seq: 9, hang: false, stackText, frames: [], scripts: {} });
    collector.end(1_003_000);
    expect(collector.stats().blocks).toEqual({ count: 1, totalMs: 1000, longestMs: 1000 });
    expect(collector.stats().delay.max).toBe(1000);
    const [event] = collector.events;
    expect(event).toMatchObject({ kind: 'hang', duration: 1000, startedAt: 1_002_000, cause: 'js' });
    expect(event?.stack[0]).toMatchObject({ function: 'buildIndex', line: 7 });
    expect(collector.topBlockers()[0]?.site).toContain('buildIndex');
  });

  it('leaves out a stall the watchdog saw end well before the app did: the main thread measured it and did not count it', () => {
    const collector = new StreamCollector();
    collector.app(start);
    collector.watchdog({ type: 'stall', seq: 3, startedAt: 1_000_100, seenAt: 1_000_160 });
    collector.watchdog({ type: 'resumed', seq: 3, at: 1_000_200 });
    collector.end(1_005_000);
    expect(collector.stats().blocks.count).toBe(0);
  });

  it('counts a block that ended just before the app died, before the app could report it', () => {
    const collector = new StreamCollector();
    collector.app(start);
    collector.watchdog({ type: 'stall', seq: 5, startedAt: 1_000_000, seenAt: 1_000_060 });
    collector.watchdog({ type: 'resumed', seq: 5, at: 1_000_400 });
    collector.end(1_000_410);
    expect(collector.stats().blocks).toEqual({ count: 1, totalMs: 400, longestMs: 400 });
  });

  it('names the native call a stall happened in', () => {
    const collector = new StreamCollector();
    collector.app(start);
    collector.watchdog({ type: 'stall', seq: 4, startedAt: 1_000_000, seenAt: 1_000_060, call: 'crypto.pbkdf2Sync' });
    collector.end(1_000_200);
    expect(collector.events[0]).toMatchObject({ cause: 'native', call: 'crypto.pbkdf2Sync', kind: 'block' });
  });

  it('counts the time an app died stuck as busy, in its utilisation and its timeline', () => {
    const collector = new StreamCollector();
    collector.app(start);
    const delay = { min: 0, max: 12, mean: 1, stddev: 1, p50: 0.5, p90: 2, p99: 9 };
    // One idle second reported, then stuck for the next 9 s until killed.
    collector.app({ type: 'stats', at: 1_001_000, delay, utilization: 0, timeline: [], stacksAvailable: true, final: false });
    collector.watchdog({ type: 'stall', seq: 3, startedAt: 1_001_000, seenAt: 1_001_060 });
    collector.end(1_010_000);
    expect(collector.stats().utilization).toBeCloseTo(0.9, 5);
    expect(collector.timeline()).toEqual([{ t: 1_010_000, p50: 9000, p99: 9000, max: 9000, utilization: 1 }]);
  });

  it("keeps the app's libuv figures from its stats records, and has none when the app sent none", () => {
    const collector = new StreamCollector();
    collector.app(start);
    const delay = { min: 0, max: 12, mean: 1, stddev: 1, p50: 0.5, p90: 2, p99: 9 };
    collector.app({ type: 'stats', at: 1_001_000, delay, utilization: 0.1, timeline: [], stacksAvailable: true, final: false });
    expect(collector.stats()).not.toHaveProperty('libuv');
    const libuv = { delay: { p50: 0.1, p99: 300, max: 900 }, saturatedMs: 900 };
    collector.app({ type: 'stats', at: 1_002_000, delay, utilization: 0.1, libuv, timeline: [], stacksAvailable: true, final: true });
    expect(collector.stats().libuv).toEqual(libuv);
  });

  it('keeps the app\'s figures and appends its timeline', () => {
    const collector = new StreamCollector();
    collector.app(start);
    const delay = { min: 0, max: 12, mean: 1, stddev: 1, p50: 0.5, p90: 2, p99: 9 };
    const point = { t: 1_001_000, p50: 0.5, p99: 9, max: 12, utilization: 0.1 };
    collector.app({ type: 'stats', at: 1_001_000, delay, utilization: 0.1, timeline: [point], stacksAvailable: true, final: false });
    collector.app({ type: 'stats', at: 1_002_000, delay, utilization: 0.2, timeline: [{ ...point, t: 1_002_000 }], stacksAvailable: true, final: true });
    expect(collector.finished).toBe(true);
    expect(collector.timeline().map((entry) => entry.t)).toEqual([1_001_000, 1_002_000]);
    expect(collector.stats()).toMatchObject({ delay, utilization: 0.2, since: 1_000_000 });
    expect(collector.subject(1_002_500)).toEqual({ pid: 4242, command: 'app.mjs', node: 'v20.20.2', generatedAt: 1_002_500 });
  });
});
