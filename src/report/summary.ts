/** The summary `loopguard/register` and the CLI print to stderr at exit. */
import { escapeTerminal } from '../shared/terminal-text.js';
import type { ReportData } from './collect.js';

/** `0.4 ms`, `12 ms`, `1.53 s`: precise where it matters, short where it does not. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${Math.round(ms)} ms`;
  return `${ms.toFixed(1)} ms`;
}

/** Cut long cells at the start, where the least matters. */
function fit(text: string, width: number): string {
  return text.length <= width ? text : `…${text.slice(text.length - width + 1)}`;
}

/**
 * A site is `fn (file:line)`: the function's name and the file's own name matter most, so a
 * long site loses the start of the file's path first.
 */
function fitSite(site: string, width: number): string {
  const match = /^(.*) \((.*)\)$/.exec(site);
  if (site.length <= width || match === null) return fit(site, width);
  const [, name = '', file = ''] = match;
  // Neither the function's name nor the file's own name is cut: a long one makes the row wider instead.
  const own = file.length - Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\')) - 1;
  return `${name} (${fit(file, Math.max(own + 1, width - name.length - 3))})`;
}

function table(header: readonly string[], rows: readonly string[][], rightAligned: readonly boolean[]): string[] {
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return rightAligned[column] === true ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export interface SummaryOptions {
  /** Where the report was written, if one was. */
  reportPath?: string;
  /** Why the report asked for could not be written (`EACCES: permission denied, open '…'`). */
  reportError?: { path: string; reason: string };
  /** Rows in the blockers table. @default 10 */
  limit?: number;
}

/** Plain text, no colour: it goes to stderr, often into CI logs. */
export function formatSummary(data: ReportData, options: SummaryOptions = {}): string {
  const { delay, blocks, utilization } = data.stats;
  const seconds = (data.generatedAt - data.since) / 1000;
  const lines: string[] = [];
  lines.push(
    `loopguard summary: ${escapeTerminal(data.command)} (pid ${data.pid}, ${seconds.toFixed(1)} s, threshold ${formatMs(data.threshold)})`,
  );
  lines.push(
    `  loop delay   p50 ${formatMs(delay.p50)}  p90 ${formatMs(delay.p90)}  p99 ${formatMs(delay.p99)}  max ${formatMs(delay.max)}` +
      `   utilization ${Math.round(utilization * 100)}%`,
  );
  const libuv = data.stats.libuv;
  if (libuv !== undefined) {
    // Aligned with 'loop delay': both are waits, the loop's and libuv's thread pool's.
    lines.push(
      `  libuv pool   wait p50 ${formatMs(libuv.delay.p50)}  p99 ${formatMs(libuv.delay.p99)}  max ${formatMs(libuv.delay.max)}` +
        (libuv.saturatedMs > 0 ? `   saturated ${formatMs(libuv.saturatedMs)} (UV_THREADPOOL_SIZE)` : ''),
    );
  }
  const blockWord = blocks.count === 1 ? 'block' : 'blocks';
  lines.push(
    `  blocked      ${blocks.count} ${blockWord}, ${formatMs(blocks.totalMs)} in total` +
      (blocks.count > 0 ? `, longest ${formatMs(blocks.longestMs)}` : ''),
  );
  const { startup } = data.stats;
  if (startup !== undefined && startup.blocks > 0) {
    // Start-up is summarised apart, never a top blocker: which modules took the time.
    const modules = startup.modules.slice(0, 5).map((entry) => `${entry.module} ${formatMs(entry.ms)}`);
    if (startup.modules.length > 5) modules.push('…');
    lines.push(
      `  start-up     ${formatMs(startup.ms)} in ${startup.blocks} ${startup.blocks === 1 ? 'block' : 'blocks'} ${startupDoing(startup.modules)}` +
        (modules.length > 0 ? `: ${escapeTerminal(modules.join(', '))}` : ''),
    );
  }
  const { host } = data.stats;
  if (host !== undefined && host.blocks > 0) {
    lines.push(
      `  not running  ${formatMs(host.ms)} in ${host.blocks} ${host.blocks === 1 ? 'block' : 'blocks'} while the process was stopped ` +
        'or starved by the host (no code of the app to blame)',
    );
  }
  const { own } = data.stats;
  if (own !== undefined && own.blocks > 0) {
    lines.push(
      `  loopguard    ${formatMs(own.ms)} in ${own.blocks} ${own.blocks === 1 ? 'block' : 'blocks'} of its own work ` +
        "(mapping stacks, say: not the app's code)",
    );
  }
  const blockers = data.topBlockers.slice(0, options.limit ?? 10);
  if (blockers.length > 0) {
    lines.push('  top blockers');
    const rows = blockers.map((blocker) => [
      // Sites and routes come from the app and its clients: no control character reaches the terminal.
      fitSite(escapeTerminal(blocker.label), 60),
      fit(escapeTerminal(blocker.route ?? '-'), 32),
      String(blocker.count),
      formatMs(blocker.totalMs),
      formatMs(blocker.maxMs),
    ]);
    for (const row of table(['site', 'route', 'count', 'total', 'max'], rows, [false, false, true, true, true])) {
      lines.push(`    ${row}`);
    }
  }
  if (!data.stacksAvailable) lines.push('  (stacks were not available in this process: sites may be unknown)');
  if (options.reportPath !== undefined) lines.push(`  report: ${options.reportPath}`);
  if (options.reportError !== undefined) {
    lines.push(`  report: not written to ${options.reportError.path}: ${options.reportError.reason}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * What start-up blocks were doing: loading modules (each entry a module), or also the app's
 * own set-up before its first server listened (an entry that is a site, `fn (file:line)`).
 */
export function startupDoing(entries: ReadonlyArray<{ module: string }>): string {
  return entries.some((entry) => /:\d+\)$/.test(entry.module)) ? 'before the app was ready' : 'loading modules';
}
