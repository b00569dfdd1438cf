// A block while the process was not running (cause 'host': SIGSTOP, a paused VM, a starved
// host) blames no code of the app's: it is counted apart in stats().host and in the summary,
// never a top blocker. (Tried on Verdaccio: a 792 ms SIGSTOP led the top blockers as `<unknown>`.)
import { describe, expect, it } from 'vitest';
import type { BlockEvent, LoopStats } from 'loopguard';
import { Aggregates } from '../../src/monitor/aggregates.js';
import { collectReport } from '../../src/report/collect.js';
import { formatSummary } from '../../src/report/summary.js';

const stopped: BlockEvent = { kind: 'block', duration: 792, threshold: 100, startedAt: 1_000, cause: 'host', site: '<unknown>', stack: [] };
const rendering: BlockEvent = {
  kind: 'block',
  duration: 240,
  threshold: 100,
  startedAt: 5_000,
  cause: 'js',
  site: 'renderInvoice (/srv/app/src/invoices.js:12)',
  stack: [{ function: 'renderInvoice', file: '/srv/app/src/invoices.js', line: 12, column: 3 }],
  context: { method: 'GET', route: '/invoices/:id' },
};

describe("blocks with cause 'host'", () => {
  it('are counted in stats().host and in blocks, and are no top blocker', () => {
    const aggregates = new Aggregates();
    aggregates.add(stopped);
    aggregates.add(rendering);
    expect(aggregates.host()).toEqual({ ms: 792, blocks: 1 });
    expect(aggregates.blocks()).toEqual({ count: 2, totalMs: 1032, longestMs: 792 });
    expect(aggregates.top(10).map((row) => row.site)).toEqual([rendering.site]);
  });

  it('have a line of their own in the exit summary', () => {
    const aggregates = new Aggregates();
    aggregates.add(stopped);
    aggregates.add(rendering);
    const stats: LoopStats = {
      delay: { min: 0, max: 800, mean: 1, stddev: 1, p50: 1, p90: 1, p99: 1 },
      utilization: 0.1,
      blocks: aggregates.blocks(),
      routes: {},
      startup: aggregates.startup(),
      host: aggregates.host(),
      since: 0,
    };
    const report = collectReport(
      { threshold: 100, stacksAvailable: true, stats: () => stats, topBlockers: () => aggregates.top(10), timeline: () => [] },
      { events: [stopped, rendering], dropped: 0 },
    );
    const summary = formatSummary(report);
    expect(summary).toMatch(/not running\s+792 ms in 1 block while the process was stopped or starved by the host/);
    expect(summary).not.toMatch(/top blockers[\s\S]*<unknown>/);
  });
});
