import { describe, expect, it } from 'vitest';
import { formatMs, formatSummary } from '../../src/report/summary.js';
import { sampleReport } from './sample-report.js';

describe('exit summary', () => {
  it('prints the delay percentiles, the block count and the total blocked time', () => {
    const text = formatSummary(sampleReport());
    expect(text).toMatch(/p50 1\.1 ms\s+p90 4\.2 ms\s+p99 205 ms\s+max 412 ms/);
    expect(text).toContain('1 block, 412 ms in total, longest 412 ms');
  });

  it('prints the top blockers as a table with site, route, count, total and max', () => {
    const lines = formatSummary(sampleReport()).split('\n');
    const header = lines.findIndex((line) => /site\s+route\s+count\s+total\s+max/.test(line));
    expect(header).toBeGreaterThan(0);
    const row = lines[header + 1] ?? '';
    expect(row).toMatch(/renderInvoice \(\/srv\/app\/src\/invoice\.ts:42\)\s+GET \/invoice\/:id\s+1\s+412 ms\s+412 ms/);
    // Columns line up: the count column ends where its header ends.
    expect(row.indexOf('GET')).toBe((lines[header] ?? '').indexOf('route'));
  });

  it('leaves the table out when nothing blocked', () => {
    const text = formatSummary(
      sampleReport({ topBlockers: [], blocks: [], stats: { ...sampleReport().stats, blocks: { count: 0, totalMs: 0, longestMs: 0 } } }),
    );
    expect(text).toContain('0 blocks, 0.0 ms in total');
    expect(text).not.toContain('top blockers');
  });

  it('escapes control characters that a client put in a route or the app put in a site', () => {
    const sample = sampleReport();
    const blocker = sample.topBlockers[0]!;
    const text = formatSummary(
      sampleReport({ topBlockers: [{ ...blocker, site: 'evil\u001b[2J (x.js:1)', label: 'evil\u001b[2J (x.js:1)', route: 'GET /a\r\u001b]0;pwned\u0007' }] }),
    );
    const controls = [...text].filter((char) => char !== '\n' && (char < ' ' || char === '\u007f'));
    expect(controls).toEqual([]);
    expect(text).toContain('evil');
  });

  it('names the library and the app’s function, and never cuts the function name', () => {
    const blocker = sampleReport().topBlockers[0]!;
    const name = `bcryptjs.compareSync via verifyPasswordAgainstTheStoredHashForTheUserAccount`;
    const label = `${name} (/srv/a/very/long/path/to/the/app/source/tree/src/auth/passwords.ts:57)`;
    const text = formatSummary(sampleReport({ topBlockers: [{ ...blocker, site: 'verifyPassword (x)', library: 'bcryptjs', label }] }));
    expect(text).toContain(`${name} (…`);
    expect(text).toContain('passwords.ts:57)');
  });

  it('shows start-up on one line, apart from the top blockers', () => {
    const sample = sampleReport();
    const startup = { ms: 1900, blocks: 3, modules: [{ module: 'ajv', ms: 600 }, { module: 'lodash', ms: 400 }, { module: 'src/db.js', ms: 300 }] };
    const text = formatSummary(sampleReport({ stats: { ...sample.stats, startup } }));
    const lines = text.split('\n');
    expect(lines.filter((line) => line.includes('start-up'))).toEqual([
      '  start-up     1.90 s in 3 blocks loading modules: ajv 600 ms, lodash 400 ms, src/db.js 300 ms',
    ]);
    expect(lines.findIndex((line) => line.includes('start-up'))).toBeLessThan(lines.findIndex((line) => line.includes('top blockers')));
  });

  it("prints libuv's thread-pool wait when the probe ran, and the saturated time", () => {
    const stats = { ...sampleReport().stats, libuv: { delay: { p50: 0.2, p99: 180, max: 640 }, saturatedMs: 1250 } };
    const text = formatSummary(sampleReport({ stats }));
    expect(text).toMatch(/libuv pool {3}wait p50 0\.2 ms {2}p99 180 ms {2}max 640 ms {3}saturated 1\.25 s \(UV_THREADPOOL_SIZE\)/);
    const quiet = formatSummary(sampleReport({ stats: { ...stats, libuv: { delay: { p50: 0.1, p99: 0.3, max: 0.4 }, saturatedMs: 0 } } }));
    expect(quiet).toMatch(/libuv pool {3}wait p50 0\.1 ms {2}p99 0\.3 ms {2}max 0\.4 ms\n/);
    // Without the probe (libuv: false, or an older app's stream): no line at all.
    expect(formatSummary(sampleReport())).not.toContain('libuv');
  });

  it('names the report file when one was written', () => {
    expect(formatSummary(sampleReport(), { reportPath: '/tmp/r.html' })).toContain('report: /tmp/r.html');
  });

  it('formats durations with a precision that suits their size', () => {
    expect([formatMs(0.42), formatMs(12.4), formatMs(412.6), formatMs(1530), formatMs(65_000)]).toEqual([
      '0.4 ms',
      '12 ms',
      '413 ms',
      '1.53 s',
      '65.0 s',
    ]);
  });
});
