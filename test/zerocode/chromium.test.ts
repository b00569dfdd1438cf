// The HTML report rendered by a real browser: Debian's chromium, headless, offline.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHART_COLOURS } from '../../src/report/chart.js';
import { renderHtml } from '../../src/report/html.js';
import { countColour, dumpDom, ensureChromium, screenshot } from './chromium.js';
import { sampleReport } from './sample-report.js';

const chromium = ensureChromium();
if ('skip' in chromium) console.warn(`skipping the headless-Chromium report tests: ${chromium.skip}`);

describe.skipIf('skip' in chromium)('HTML report in headless Chromium', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'loopguard-report-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const browser = 'path' in chromium ? chromium.path : '';

  function page(name: string, html: string): string {
    const file = join(dir, name);
    writeFileSync(file, html);
    return file;
  }

  it('draws the delay lines and the block band in the screenshot', () => {
    const withChart = screenshot(browser, page('report.html', renderHtml(sampleReport())));
    // The same page with no samples and no blocks: only the legend swatches carry the colours.
    const empty = sampleReport({ timeline: [], blocks: [] });
    const withoutChart = screenshot(browser, page('empty.html', renderHtml(empty)));
    const p99Drawn = countColour(withChart, CHART_COLOURS.p99);
    const p99Legend = countColour(withoutChart, CHART_COLOURS.p99);
    expect(p99Drawn).toBeGreaterThan(300);
    expect(p99Drawn).toBeGreaterThan(p99Legend * 5);
    expect(countColour(withChart, CHART_COLOURS.p50)).toBeGreaterThan(countColour(withoutChart, CHART_COLOURS.p50) * 5);
    // The block band is the block colour at 25% over white: #fed4d4 or so.
    expect(countColour(withChart, '#fed4d4', 10)).toBeGreaterThan(1000);
    expect(countColour(withoutChart, '#fed4d4', 10)).toBeLessThan(100);
  });

  it('keeps the chart in the DOM after the page script ran, with its points and the local times filled in', () => {
    const dom = dumpDom(browser, page('dom.html', renderHtml(sampleReport())));
    const p99 = dom.match(/class="series series-p99" d="([^"]+)"/)?.[1] ?? '';
    expect(p99.match(/[ML]/g)).toHaveLength(12);
    expect(dom).toContain('renderInvoice');
    // The script replaced the ISO timestamps with local clock times.
    expect(dom).not.toMatch(/data-epoch="\d+">2026-01-01T/);
  });
});
