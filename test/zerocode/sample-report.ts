// A fixed ReportData, as collectReport() would produce for a 12 s run with one 412 ms block.
import type { ReportData } from '../../src/report/collect.js';

export function sampleReport(overrides: Partial<ReportData> = {}): ReportData {
  const since = Date.UTC(2026, 0, 1, 12, 0, 0);
  const timeline = Array.from({ length: 12 }, (_, i) => ({
    t: since + (i + 1) * 1000,
    p50: 0.8 + (i % 3) * 0.2,
    p99: i === 5 ? 412 : 3 + (i % 4),
    max: i === 5 ? 412 : 6 + (i % 5),
    utilization: i === 5 ? 0.45 : 0.05,
  }));
  const stack = [
    { function: 'renderInvoice', file: '/srv/app/src/invoice.ts', line: 42, column: 10 },
    { function: 'handler', file: '/srv/app/src/routes.ts', line: 17, column: 3 },
  ];
  return {
    version: 1,
    pid: 4242,
    command: 'app.mjs',
    node: 'v20.20.2',
    since,
    generatedAt: since + 12_000,
    threshold: 50,
    stacksAvailable: true,
    stats: {
      delay: { min: 0.5, max: 412, mean: 2.1, stddev: 9.5, p50: 1.1, p90: 4.2, p99: 205.3 },
      utilization: 0.08,
      blocks: { count: 1, totalMs: 412, longestMs: 412 },
      routes: { 'GET /invoice/:id': { blocks: 1, totalMs: 412, maxMs: 412 } },
      startup: { ms: 0, blocks: 0, modules: [] },
      host: { ms: 0, blocks: 0 },
      since,
    },
    timeline,
    blocks: [
      {
        kind: 'block',
        startedAt: since + 5200,
        duration: 412,
        cause: 'js',
        site: 'renderInvoice (/srv/app/src/invoice.ts:42)',
        request: 'GET /invoice/:id',
      },
    ],
    blocksDropped: 0,
    topBlockers: [
      {
        site: 'renderInvoice (/srv/app/src/invoice.ts:42)',
        label: 'renderInvoice (/srv/app/src/invoice.ts:42)',
        route: 'GET /invoice/:id', count: 1, totalMs: 412, maxMs: 412, stack },
    ],
    ...overrides,
  };
}
