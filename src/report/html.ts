/**
 * The HTML report: one self-contained page. Everything is inline (CSS, the SVG chart, a few
 * lines of script) and nothing is fetched, so it can be attached to a ticket or opened offline.
 * Every string that came from the program (stacks, paths, routes) goes through escapeHtml.
 */
import { CHART_COLOURS, renderChart } from './chart.js';
import { displayFile } from '../shared/paths.js';
import type { BlockerSummary } from '../types.js';
import type { ReportData } from './collect.js';
import { escapeHtml, jsonForScript } from './escape.js';
import { formatMs, startupDoing } from './summary.js';

const STYLE = `
:root { color-scheme: light; --muted: #666; --line: #ddd; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1100px; padding: 0 16px; color: #222; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
.meta { color: var(--muted); }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 16px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 90px; }
.card b { display: block; font-size: 18px; } .card span { color: var(--muted); font-size: 12px; }
svg .grid { stroke: #eee; } svg .axis { fill: #888; font-size: 11px; }
svg .threshold { stroke: #868e96; stroke-dasharray: 5 4; }
.legend span { margin-right: 14px; } .legend i { display: inline-block; width: 14px; height: 4px; vertical-align: middle; margin-right: 4px; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
td.n, th.n { text-align: right; white-space: nowrap; }
code, pre { font: 12px/1.4 ui-monospace, Menlo, Consolas, monospace; }
pre { margin: 4px 0 8px; padding: 8px; background: #f8f9fa; overflow-x: auto; }
details summary { cursor: pointer; }
.empty { color: var(--muted); }
`;

/** Turns the epoch times into local clock times; the page reads fine without it. */
const SCRIPT = `
for (const el of document.querySelectorAll('[data-epoch]')) {
  el.textContent = new Date(Number(el.dataset.epoch)).toLocaleTimeString();
}
`;

function card(value: string, label: string): string {
  return `<div class="card"><b>${escapeHtml(value)}</b><span>${escapeHtml(label)}</span></div>`;
}

function stackText(blocker: BlockerSummary): string {
  if (blocker.stack.length === 0) return '(no stack captured)';
  return blocker.stack
    .map((frame) => `at ${frame.function || '(anonymous)'} (${displayFile(frame.file)}:${frame.line}:${frame.column})`)
    .join('\n');
}

/** loopguard's own work on the main thread (stats().own): the loop was blocked, not by the app. */
function ownSection(data: ReportData): string {
  const own = data.stats.own;
  if (own === undefined || own.blocks === 0) return '';
  return `<p id="own">loopguard's own work (mapping stacks, say) blocked the loop for ${escapeHtml(formatMs(own.ms))} in ${own.blocks} ${own.blocks === 1 ? 'block' : 'blocks'}: not the app's code, and in no row below.</p>
`;
}

/** Start-up apart from the top blockers: which modules took the time while loading. */
function startupSection(data: ReportData): string {
  // A report's data may come from an app on an older loopguard (the CLI's stream): none then.
  const startup = data.stats.startup as ReportData['stats']['startup'] | undefined;
  if (startup === undefined || startup.blocks === 0) return '';
  const rows = startup.modules
    .map((entry) => `<tr><td><code>${escapeHtml(entry.module)}</code></td><td class="n">${escapeHtml(formatMs(entry.ms))}</td></tr>`)
    .join('\n');
  return `<h2>Start-up: ${escapeHtml(formatMs(startup.ms))} in ${startup.blocks} ${startup.blocks === 1 ? 'block' : 'blocks'} ${startupDoing(startup.modules)}</h2>
<table id="startup"><thead><tr><th>module or site</th><th class="n">time</th></tr></thead>
<tbody>
${rows}
</tbody></table>
`;
}

function blockersSection(data: ReportData): string {
  if (data.topBlockers.length === 0) return '<p class="empty">No blocks above the threshold.</p>';
  const rows = data.topBlockers.map(
    (blocker, index) => `<tr>
<td>${index + 1}</td>
<td><details${index === 0 ? ' open' : ''}><summary><code>${escapeHtml(blocker.label)}</code></summary><pre>${escapeHtml(stackText(blocker))}</pre></details></td>
<td>${escapeHtml(blocker.route ?? '-')}</td>
<td class="n">${blocker.count}</td><td class="n">${escapeHtml(formatMs(blocker.totalMs))}</td><td class="n">${escapeHtml(formatMs(blocker.maxMs))}</td>
</tr>`,
  );
  return `<table id="blockers"><thead><tr><th>#</th><th>site and stack</th><th>route</th><th class="n">count</th><th class="n">total</th><th class="n">max</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
}

function blocksSection(data: ReportData): string {
  if (data.blocks.length === 0) return '';
  const rows = data.blocks
    .slice(-100)
    .reverse()
    .map(
      (block) => `<tr><td data-epoch="${block.startedAt}">${escapeHtml(new Date(block.startedAt).toISOString())}</td>
<td>${escapeHtml(block.kind)}</td><td class="n">${escapeHtml(formatMs(block.duration))}</td>
<td><code>${escapeHtml(block.site)}</code>${block.call === undefined ? '' : ` <code>${escapeHtml(block.call)}</code>`}</td>
<td>${escapeHtml(block.request ?? '-')}</td><td>${escapeHtml(block.cause)}${block.stackLate === true ? ' <span title="the stack was taken after the blocking work ended: the site may name what ran next">(stack late)</span>' : ''}</td></tr>`,
    );
  const dropped = data.blocksDropped > 0 ? ` (${data.blocksDropped} older blocks not kept)` : '';
  return `<h2>Recent blocks${escapeHtml(dropped)}</h2>
<table id="blocks"><thead><tr><th>started</th><th>kind</th><th class="n">duration</th><th>site</th><th>request</th><th>cause</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>`;
}

export function renderHtml(data: ReportData): string {
  const { delay, blocks, utilization } = data.stats;
  const seconds = (data.generatedAt - data.since) / 1000;
  const title = `loopguard report: ${data.command}`;
  const legend = (['p50', 'p99', 'max'] as const)
    .map((series) => `<span><i style="background:${CHART_COLOURS[series]}"></i>${series}</span>`)
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<div class="meta">pid ${data.pid} · Node ${escapeHtml(data.node)} · ${escapeHtml(seconds.toFixed(1))} s from
<span data-epoch="${data.since}">${escapeHtml(new Date(data.since).toISOString())}</span> · threshold ${escapeHtml(formatMs(data.threshold))}${
    data.stacksAvailable ? '' : ' · stacks unavailable'
  }</div>
<div class="cards">
${card(formatMs(delay.p50), 'delay p50')}
${card(formatMs(delay.p90), 'delay p90')}
${card(formatMs(delay.p99), 'delay p99')}
${card(formatMs(delay.max), 'delay max')}
${card(String(blocks.count), blocks.count === 1 ? 'block' : 'blocks')}
${card(formatMs(blocks.totalMs), 'blocked in total')}
${card(`${Math.round(utilization * 100)}%`, 'loop utilization')}
${
  // libuv's thread pool (fs, dns, crypto, zlib): how long its work waited for a thread.
  data.stats.libuv === undefined
    ? ''
    : `${card(formatMs(data.stats.libuv.delay.p99), 'libuv pool wait p99')}\n${card(formatMs(data.stats.libuv.delay.max), 'libuv pool wait max')}`
}
</div>
<h2>Loop delay per second, blocks shaded</h2>
<div class="legend">${legend}<span><i style="background:${CHART_COLOURS.block};opacity:.35"></i>block</span><span>- - threshold</span></div>
${renderChart(data)}
${startupSection(data)}${ownSection(data)}<h2>Top blockers</h2>
${blockersSection(data)}
${blocksSection(data)}
<script type="application/json" id="loopguard-data">${jsonForScript(data)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
