/**
 * The loop-delay timeline as inline SVG, drawn here rather than in the browser so the page
 * needs no script, no library and no network to show it.
 */
import type { ReportData } from './collect.js';
import { escapeHtml } from './escape.js';
import { formatMs } from './summary.js';

export const CHART_COLOURS = { p50: '#2b8a3e', p99: '#e8590c', max: '#c92a2a', block: '#fa5252' } as const;

const WIDTH = 1000;
const HEIGHT = 320;
const MARGIN = { left: 64, right: 16, top: 16, bottom: 36 };
const TICKS_MS = [0, 1, 10, 100, 1000, 10_000, 100_000];

/** Delays span 0.1 ms to seconds: a log scale keeps p50 visible next to a 500 ms block. */
function scaleY(ms: number, topMs: number): number {
  const plot = HEIGHT - MARGIN.top - MARGIN.bottom;
  const fraction = Math.log10(1 + Math.max(0, ms)) / Math.log10(1 + topMs);
  return round(HEIGHT - MARGIN.bottom - Math.min(1, fraction) * plot);
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function tickLabel(ms: number): string {
  return ms === 0 ? '0' : ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

export function renderChart(data: ReportData): string {
  const points = data.timeline;
  const start = Math.min(data.since, ...points.map((p) => p.t - 1000), ...data.blocks.map((b) => b.startedAt));
  const end = Math.max(data.generatedAt, ...points.map((p) => p.t), ...data.blocks.map((b) => b.startedAt + b.duration));
  const span = Math.max(1, end - start);
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const x = (t: number): number => round(MARGIN.left + ((t - start) / span) * plotWidth);
  const highest = Math.max(data.threshold, ...points.map((p) => p.max), ...data.blocks.map((b) => b.duration));
  const topMs = TICKS_MS.find((tick) => tick >= highest * 1.2) ?? highest * 1.2;
  const y = (ms: number): number => scaleY(ms, topMs);

  const parts: string[] = [];
  parts.push(
    `<svg id="timeline" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="100%" role="img" aria-label="Event-loop delay over time">`,
  );
  for (const tick of TICKS_MS.filter((t) => t <= topMs)) {
    parts.push(
      `<line class="grid" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(tick)}" y2="${y(tick)}"/>`,
      `<text class="axis" x="${MARGIN.left - 6}" y="${y(tick) + 4}" text-anchor="end">${tickLabel(tick)}</text>`,
    );
  }
  const seconds = span / 1000;
  const step = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600].find((s) => seconds / s <= 10) ?? 7200;
  for (let s = 0; s <= seconds; s += step) {
    const tx = x(start + s * 1000);
    parts.push(`<text class="axis" x="${tx}" y="${HEIGHT - 12}" text-anchor="middle">${s} s</text>`);
  }
  for (const block of data.blocks) {
    const left = x(block.startedAt);
    const width = Math.max(3, round(x(block.startedAt + block.duration) - left));
    const label = `${block.kind} ${formatMs(block.duration)} at ${block.site}${block.request === undefined ? '' : ` in ${block.request}`}`;
    parts.push(
      `<rect class="block" x="${left}" y="${MARGIN.top}" width="${width}" height="${HEIGHT - MARGIN.top - MARGIN.bottom}"` +
        ` fill="${CHART_COLOURS.block}" fill-opacity="0.25"><title>${escapeHtml(label)}</title></rect>`,
    );
  }
  parts.push(
    `<line class="threshold" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(data.threshold)}" y2="${y(data.threshold)}">` +
      `<title>threshold ${escapeHtml(formatMs(data.threshold))}</title></line>`,
  );
  for (const series of ['max', 'p99', 'p50'] as const) {
    if (points.length === 0) break;
    const d = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.t)},${y(p[series])}`).join(' ');
    parts.push(
      `<path class="series series-${series}" d="${d}" fill="none" stroke="${CHART_COLOURS[series]}" stroke-width="2.5"` +
        ` stroke-linejoin="round"/>`,
    );
    // A lone sample is a path with no length: a dot keeps it visible.
    if (points.length < 3) {
      for (const p of points) {
        parts.push(`<circle cx="${x(p.t)}" cy="${y(p[series])}" r="4" fill="${CHART_COLOURS[series]}"/>`);
      }
    }
  }
  if (points.length === 0) {
    parts.push(
      `<text class="axis" x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle">no delay samples yet (the process ran under a second)</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}
