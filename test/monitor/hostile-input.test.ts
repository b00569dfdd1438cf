// What a client or a buggy dependency controls must not hurt the host: a throwing logger,
// control characters in a path or a function name, an endless stream of distinct paths.
// Fed through the monitor's internal `report()` (what the sync-call wrapper uses), as in
// report.test.ts: deterministic, no blocking needed.
import { describe, expect, it, vi } from 'vitest';
import { captureStderr, event, useReportingMonitor } from './reporting.js';

const start = useReportingMonitor();

describe('a logger whose warn() throws', () => {
  const throwing = { warn: vi.fn(() => { throw new Error('log transport is down'); }) };

  it('neither throws out of the monitor nor keeps the event from onBlock and on("block")', () => {
    const seen: string[] = [];
    const running = start({ log: throwing, onBlock: () => seen.push('onBlock') });
    running.on('block', () => seen.push('on'));
    expect(() => running.report(event())).not.toThrow();
    expect(seen.sort()).toEqual(['on', 'onBlock']);
    expect(throwing.warn).toHaveBeenCalled();
    expect(running.stats().blocks.count).toBe(1);
  });

  it("does not throw out of the monitor's own warnings either", () => {
    const running = start({ log: throwing });
    expect(() => running.warn({ queued: 3 }, 'pool saturated')).not.toThrow();
  });
});

describe('control characters from requests and code', () => {
  const hostile = '/a\u001b[2J\u001b]0;pwned\u0007\r\u0085\u202e\u2066x';

  it('are escaped in the pretty log: route, path, function and file names', () => {
    const written = captureStderr();
    start({ log: 'pretty' }).report(
      event({
        context: { method: 'GET\u001b[31m', path: hostile },
        stack: [{ function: `evil\u001b[1m${'\u009b'}fn`, file: `${process.cwd()}/app/\u202ebad.js`, line: 1, column: 2 }],
      }),
    );
    const text = written.join('');
    // Only the line breaks of the log itself remain.
    // eslint-disable-next-line no-control-regex -- control characters are what this test looks for
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/);
    expect(text).toContain('in GET\\x1B[31m /a\\x1B[2J\\x1B]0;pwned\\x07\\r\\x85\\u202E\\u2066x');
    expect(text).toContain('at evil\\x1B[1m\\x9Bfn (app/\\u202Ebad.js:1:2)');
  });

  it('are escaped in warnings', () => {
    const written = captureStderr();
    start({ log: 'pretty' }).warn({ reason: 'bad\u001b[2Jreason' }, 'stack capture is unavailable');
    expect(written.join('')).toBe('loopguard: stack capture is unavailable (reason=bad\\x1B[2Jreason)\n');
  });

  it('leave a JSON line valid and free of raw bidi overrides and line separators', () => {
    const written = captureStderr();
    start({ log: 'json' }).report(event({ context: { path: hostile } }));
    expect(written).toHaveLength(1);
    // eslint-disable-next-line no-control-regex -- control characters are what this test looks for
    expect(written[0]).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/);
    expect((JSON.parse(written[0] ?? '') as { context: { path: string } }).context.path).toBe(hostile);
  });
});

describe('maps keyed by what a client controls', () => {
  it('keep at most 1000 routes in stats(), the rest counted under "(other)"', () => {
    const running = start({ log: false });
    for (let i = 0; i < 1500; i++) running.report(event({ context: { method: 'GET', path: `/users/${i}` } }));
    const routes = running.stats().routes;
    expect(Object.keys(routes)).toHaveLength(1001);
    expect(routes['GET /users/0']).toEqual({ blocks: 1, totalMs: 300, maxMs: 300 });
    expect(routes['(other)']).toEqual({ blocks: 500, totalMs: 150_000, maxMs: 300 });
    expect(running.stats().blocks.count).toBe(1500);
  });

  it('keep at most 1000 sites and routes behind topBlockers(), the rest counted under "(other)"', () => {
    const running = start({ log: false });
    for (let i = 0; i < 1500; i++) running.report(event({ context: { method: 'GET', path: `/users/${i}` } }));
    const top = running.topBlockers(Infinity);
    expect(top).toHaveLength(1001);
    expect(top[0]).toMatchObject({ site: '(other)', count: 500, totalMs: 150_000 });
    expect(top[0]?.route).toBeUndefined();
    expect(top.reduce((sum, summary) => sum + summary.count, 0)).toBe(1500);
  });

  it('keep the log dedupe window working for a site seen again after 1000 others', () => {
    const logged: Array<Record<string, unknown>> = [];
    const running = start({ log: { warn: (fields) => logged.push(fields as Record<string, unknown>) }, dedupe: 60_000 });
    for (let i = 0; i < 3000; i++) running.report(event({ context: { method: 'GET', path: `/users/${i}` } }));
    // Bounded: the oldest keys were dropped, so the first path is logged again, not remembered forever.
    running.report(event({ context: { method: 'GET', path: '/users/0' } }));
    expect(logged).toHaveLength(3001);
  });
});
