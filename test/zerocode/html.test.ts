import { describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/report/html.js';
import { renderReport } from '../../src/report/write.js';
import { networkReferences } from './helpers.js';
import { sampleReport } from './sample-report.js';

describe('HTML report', () => {
  it('names the blocking function with its stack and route', () => {
    const html = renderHtml(sampleReport());
    expect(html).toContain('renderInvoice (/srv/app/src/invoice.ts:42)');
    expect(html).toContain('at handler (/srv/app/src/routes.ts:17:3)');
    expect(html).toContain('GET /invoice/:id');
  });

  it("shows libuv's thread-pool wait when the probe ran, and nothing of it otherwise", () => {
    const stats = { ...sampleReport().stats, libuv: { delay: { p50: 0.2, p99: 180, max: 640 }, saturatedMs: 640 } };
    const html = renderHtml(sampleReport({ stats }));
    expect(html).toContain('<b>180 ms</b><span>libuv pool wait p99</span>');
    expect(html).toContain('<b>640 ms</b><span>libuv pool wait max</span>');
    expect(renderHtml(sampleReport())).not.toContain('libuv');
  });

  it('loads nothing from the network', () => {
    const html = renderHtml(sampleReport());
    expect(networkReferences(html)).toEqual([]);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/<script[^>]*\bsrc=/i);
  });

  it('draws the p50, p99 and max series with one point per timeline sample', () => {
    const html = renderHtml(sampleReport());
    for (const series of ['p50', 'p99', 'max']) {
      const path = html.match(new RegExp(`class="series series-${series}" d="([^"]+)"`));
      expect(path?.[1]?.match(/[ML]/g)).toHaveLength(12);
    }
  });

  it('marks each block on the timeline where it happened', () => {
    const html = renderHtml(sampleReport());
    const blocks = [...html.matchAll(/<rect class="block" x="([\d.]+)"[^>]*width="([\d.]+)"/g)];
    expect(blocks).toHaveLength(1);
    // Started 5.2 s into a 12 s window, 412 ms long, on a 920-unit-wide plot starting at 64.
    expect(Number(blocks[0]?.[1])).toBeCloseTo(64 + (5.2 / 12) * 920, 0);
    expect(Number(blocks[0]?.[2])).toBeCloseTo((0.412 / 12) * 920, 0);
  });

  it('escapes HTML in stacks, paths and routes', () => {
    const hostile = '<img src=x onerror=alert(1)>';
    const data = sampleReport();
    data.command = `"${hostile}`;
    data.topBlockers[0]!.stack[0]!.function = hostile;
    data.topBlockers[0]!.route = `GET /search?q=</script><script>alert(1)</script>`;
    data.topBlockers[0]!.site = `${hostile} (x.js:1)`;
    // The row shows the label (library and site): hostile in its own right.
    data.topBlockers[0]!.label = `${hostile}.fn via ${hostile} (x.js:1)`;
    data.blocks[0]!.request = `GET /${hostile}`;
    const html = renderHtml(data);
    expect(html).not.toContain('<img');
    expect(html).not.toContain('</script><script>alert');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    // The embedded data is still valid JSON, with the markup escaped out of the script element.
    const json = html.match(/<script type="application\/json" id="loopguard-data">([\s\S]*?)<\/script>/)?.[1] ?? '';
    expect(JSON.parse(json).topBlockers[0].stack[0].function).toBe(hostile);
  });

  it('shows start-up in its own section, apart from the top blockers, module names escaped', () => {
    const sample = sampleReport();
    const startup = { ms: 900, blocks: 2, modules: [{ module: 'ajv', ms: 600 }, { module: 'src/<b>db</b>.js', ms: 300 }] };
    const html = renderHtml(sampleReport({ stats: { ...sample.stats, startup } }));
    expect(html).toContain('<h2>Start-up: 900 ms in 2 blocks loading modules</h2>');
    expect(html).toMatch(/<table id="startup">[\s\S]*<code>ajv<\/code><\/td><td class="n">600 ms[\s\S]*src\/&lt;b&gt;db&lt;\/b&gt;\.js/);
    expect(html.indexOf('id="startup"')).toBeLessThan(html.indexOf('<h2>Top blockers</h2>'));
    expect(renderHtml(sample)).not.toContain('id="startup"');
  });

  it('says so when there were no blocks', () => {
    const html = renderHtml(sampleReport({ blocks: [], topBlockers: [] }));
    expect(html).toContain('No blocks above the threshold.');
    expect(html).not.toContain('<rect class="block"');
  });

  it('writes the same data as JSON', () => {
    const data = sampleReport();
    expect(JSON.parse(renderReport(data, 'json'))).toEqual(data);
  });
});
