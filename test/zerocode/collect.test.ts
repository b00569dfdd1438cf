import { describe, expect, it } from 'vitest';
import { collectReport, recordBlocks } from '../../src/report/collect.js';
import type { BlockEvent, BlockerSummary, Monitor } from '../../src/types.js';

/** A monitor stand-in with fixed numbers: collectReport only reads the public interface. */
function fakeMonitor(blockers: BlockerSummary[] = []): Monitor & { emit(event: BlockEvent): void } {
  const listeners = new Set<(event: BlockEvent) => void>();
  const monitor = {
    threshold: 50,
    stacksAvailable: true,
    on(_: 'block', listener: (event: BlockEvent) => void) {
      listeners.add(listener);
      return monitor;
    },
    off(_: 'block', listener: (event: BlockEvent) => void) {
      listeners.delete(listener);
      return monitor;
    },
    once() {
      return monitor;
    },
    emit(event: BlockEvent) {
      for (const listener of listeners) listener(event);
    },
    stats: () => ({
      delay: { min: 0, max: 300, mean: 1, stddev: 1, p50: 1, p90: 2, p99: 250 },
      utilization: 0.1,
      blocks: { count: 1, totalMs: 300, longestMs: 300 },
      routes: {},
      since: 1000,
    }),
    topBlockers: () => blockers,
    timeline: () => [{ t: 2000, p50: 1, p99: 250, max: 300, utilization: 0.3 }],
    stop: async () => undefined,
  };
  return monitor as unknown as Monitor & { emit(event: BlockEvent): void };
}

const frame = { function: 'renderInvoice', file: '/srv/app.mjs', line: 9, column: 3 };

function block(startedAt: number, context?: BlockEvent['context']): BlockEvent {
  const event: BlockEvent = { kind: 'block', duration: 300, threshold: 50, startedAt, stack: [frame], cause: 'js' };
  if (context !== undefined) event.context = context;
  return event;
}

describe('collectReport', () => {
  it('places each recorded block in time with its site and request', () => {
    const monitor = fakeMonitor();
    const recorder = recordBlocks(monitor);
    monitor.emit(block(1500, { method: 'GET', path: '/invoice/42' }));
    const data = collectReport(monitor, recorder);
    expect(data.blocks).toEqual([
      { kind: 'block', startedAt: 1500, duration: 300, cause: 'js', site: 'renderInvoice (/srv/app.mjs:9)', request: 'GET /invoice/42' },
    ]);
    expect(data).toMatchObject({ version: 1, threshold: 50, since: 1000, timeline: [{ t: 2000 }] });
  });

  it('keeps the start-up phase of a block, and adds none to a block of serving', () => {
    const monitor = fakeMonitor();
    const recorder = recordBlocks(monitor);
    monitor.emit({ ...block(1200), phase: 'startup' });
    monitor.emit(block(1500, { method: 'GET', path: '/invoice/42' }));
    const [startup, serving] = collectReport(monitor, recorder).blocks;
    expect(startup).toMatchObject({ startedAt: 1200, phase: 'startup' });
    expect(serving).not.toHaveProperty('phase');
  });

  it("names a block's site after the innermost frame that is neither Node's nor loopguard's own", () => {
    const monitor = fakeMonitor();
    const recorder = recordBlocks(monitor);
    const ownFile = new URL('../../dist/index.js', import.meta.url).pathname;
    const event = block(1500);
    event.stack = [
      { function: 'readFileSync', file: 'node:fs', line: 441, column: 20 },
      { function: 'mapFileFrames', file: ownFile, line: 12, column: 5 },
      frame,
    ];
    monitor.emit(event);
    expect(collectReport(monitor, recorder).blocks[0]?.site).toBe('renderInvoice (/srv/app.mjs:9)');
  });

  it('keeps only the latest blocks and counts the ones it dropped', () => {
    const monitor = fakeMonitor();
    const recorder = recordBlocks(monitor, 3);
    for (let i = 0; i < 5; i += 1) monitor.emit(block(1000 + i));
    const data = collectReport(monitor, recorder);
    expect(data.blocks.map((b) => b.startedAt)).toEqual([1002, 1003, 1004]);
    expect(data.blocksDropped).toBe(2);
  });

  it("never gives a blocker that had no request the route of another block at the same frame", () => {
    const monitor = fakeMonitor([
      { site: 'renderInvoice (/srv/app.mjs:9)', route: 'POST /invoice', count: 1, totalMs: 300, maxMs: 300, stack: [frame] },
      { site: 'renderInvoice (/srv/app.mjs:9)', count: 1, totalMs: 200, maxMs: 200, stack: [frame] },
    ]);
    const recorder = recordBlocks(monitor);
    monitor.emit(block(1500, { method: 'POST', path: '/invoice' }));
    monitor.emit(block(1900));
    expect(collectReport(monitor, recorder).topBlockers.map((blocker) => blocker.route)).toEqual(['POST /invoice', undefined]);
  });

  it('stops listening when the recorder is stopped', () => {
    const monitor = fakeMonitor();
    const recorder = recordBlocks(monitor);
    recorder.stop();
    monitor.emit(block(1500));
    expect(recorder.events).toHaveLength(0);
  });
});
