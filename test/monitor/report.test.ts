// The reporting path, fed with events directly through the monitor's internal `report()`
// (what the sync-call wrapper uses): deterministic, no blocking needed.
import { describe, expect, it, vi } from 'vitest';
import { captureStderr, event, useReportingMonitor } from './reporting.js';
import type { BlockEvent } from 'loopguard';

const start = useReportingMonitor();

describe('the reporter', () => {
  it('prints the pretty shape: headline with route, frames relative to cwd, hint', () => {
    const written = captureStderr();
    start({ log: 'pretty' }).report(event());
    expect(written.join('')).toBe(
      [
        'loopguard: event loop blocked for 300 ms (threshold 100 ms) in GET /users/:id',
        '    at hashPassword (app/auth.ts:42:10)',
        '    at handler (app/routes/users.ts:17:3)',
        '  hint: move it off the loop with threaded(hashPassword) or runInThreadpool()',
        '',
      ].join('\n'),
    );
  });

  it('says the sites a long block went through, each once in a row, and nothing when there was one', () => {
    const written = captureStderr();
    const running = start({ log: 'pretty', dedupe: 0 });
    const at = (fn: string, line: number) => ({ function: fn, file: `${process.cwd()}/app/list.ts`, line, column: 3 });
    // Two distinct stacks in `list` (other callers below it), then one in `render`.
    const list1 = [at('list', 9), at('route', 20)];
    const list2 = [at('list', 9), at('search', 30)];
    const render = [at('render', 40), at('route', 20)];
    running.report(event({ stack: render, stacks: [list1, list2, render] }));
    running.report(event({ stack: list2, stacks: [list1, list2], context: { method: 'GET', route: '/other' } }));
    expect(written[0]).toContain('\n  it went through: list (app/list.ts:9) → render (app/list.ts:40)\n');
    expect(written[1]).not.toContain('it went through');
  });

  it('names the native API or garbage collection in the headline', () => {
    const written = captureStderr();
    const running = start({ log: 'pretty', dedupe: 0 });
    running.report(event({ cause: 'native', call: 'crypto.pbkdf2Sync' }));
    running.report(event({ cause: 'gc', context: undefined }));
    expect(written[0]).toMatch(/^loopguard: event loop blocked for 300 ms by crypto\.pbkdf2Sync \(threshold 100 ms\) in GET \/users\/:id\n/);
    expect(written[1]).toMatch(/^loopguard: event loop blocked for 300 ms by garbage collection \(threshold 100 ms\)\n/);
  });

  it('writes one JSON object per line with pid, site and route', () => {
    const written = captureStderr();
    start({ log: 'json' }).report(event());
    expect(written).toHaveLength(1);
    expect(written[0]?.endsWith('\n')).toBe(true);
    expect(JSON.parse(written[0] ?? '')).toMatchObject({
      level: 'warn',
      pid: process.pid,
      msg: 'event loop blocked for 300 ms (threshold 100 ms) in GET /users/:id',
      kind: 'block',
      duration: 300,
      site: 'hashPassword (app/auth.ts:42)',
      route: 'GET /users/:id',
    });
  });

  it('dedupes per site and route, and says how many were left out once the window has passed', () => {
    const logged: Array<Record<string, unknown>> = [];
    const running = start({ log: { warn: (fields) => logged.push(fields as Record<string, unknown>) }, dedupe: 60_000 });
    const now = Date.now();
    const clock = vi.spyOn(Date, 'now').mockReturnValue(now);
    running.report(event());
    running.report(event());
    running.report(event({ context: { method: 'GET', route: '/other' } }));
    running.report(event());
    expect(logged.map((fields) => fields['route'])).toEqual(['GET /users/:id', 'GET /other']);
    clock.mockReturnValue(now + 60_001);
    running.report(event());
    expect(logged).toHaveLength(3);
    expect(logged[2]).toMatchObject({ route: 'GET /users/:id', suppressed: 2 });
  });

  it('routes warn() through the configured log', () => {
    const logged: Array<[unknown, string | undefined]> = [];
    start({ log: { warn: (fields, message) => logged.push([fields, message]) } }).warn({ queued: 12 }, 'pool saturated');
    expect(logged).toEqual([[{ queued: 12 }, 'pool saturated']]);
  });

  it('stays silent with log: false but still emits and counts', () => {
    const written = captureStderr();
    const seen: BlockEvent[] = [];
    const running = start({ log: false, onBlock: (e) => seen.push(e) });
    running.report(event());
    expect(written).toEqual([]);
    expect(seen).toHaveLength(1);
    expect(running.stats().blocks).toEqual({ count: 1, totalMs: 300, longestMs: 300 });
    expect(running.stats().routes).toEqual({ 'GET /users/:id': { blocks: 1, totalMs: 300, maxMs: 300 } });
  });

  it('formats a sync-call event with the API and an async hint, and does not count it as a block', async () => {
    const written = captureStderr();
    const running = start({ log: 'pretty' });
    running.report(event({ kind: 'sync-call', call: 'fs.readFileSync', duration: 3 }));
    // Logged once the maps of its frames' files have been looked for (read asynchronously).
    await vi.waitFor(() => expect(written.length).toBeGreaterThan(0));
    expect(written[0]).toMatch(/^loopguard: blocking call fs\.readFileSync in GET \/users\/:id\n/);
    expect(written[0]).toMatch(/hint: use the asynchronous form of fs\.readFileSync/);
    expect(running.stats().blocks.count).toBe(0);
  });
});

describe('ignore rules', () => {
  it.each([
    [{ functions: ['handler'] }, true],
    [{ functions: [/^hash/] }, true],
    [{ functions: ['hash'] }, false],
    [{ files: ['app/routes/'] }, true],
    [{ files: [/auth\.ts$/] }, true],
    [{ files: ['lib/'] }, false],
    [{ routes: ['/users/:id'] }, true],
    [{ routes: ['GET /users/:id'] }, true],
    [{ routes: ['/users/42'] }, true],
    [{ routes: [/^\/admin/] }, false],
  ])('%o leaves the event out: %s', (ignore, ignored) => {
    const seen: BlockEvent[] = [];
    start({ log: false, ignore, onBlock: (e) => seen.push(e) }).report(event());
    expect(seen.length === 0).toBe(ignored);
  });

  it('sorts topBlockers by total time', () => {
    const running = start({ log: false });
    running.report(event({ duration: 200 }));
    running.report(event({ duration: 200 }));
    running.report(event({ duration: 350, stack: [{ function: 'render', file: '/app/view.js', line: 3, column: 1 }] }));
    expect(running.topBlockers().map((summary) => [summary.site, summary.count, summary.totalMs, summary.maxMs])).toEqual([
      ['hashPassword (app/auth.ts:42)', 2, 400, 200],
      ['render (/app/view.js:3)', 1, 350, 350],
    ]);
  });
});
