/**
 * The end of a zero-code run: write the report, then print the summary. Shared by register
 * (at 'exit', when no CLI holds the data) and by the CLI (once the app has ended). Synchronous:
 * register calls it inside process 'exit'.
 */
import type { ReportData } from '../report/collect.js';
import { formatSummary, type SummaryOptions } from '../report/summary.js';
import { writeReportSync } from '../report/write.js';
import type { ReportFormat } from './settings.js';

export interface OutputSettings {
  /** Absolute path, resolved when the run started. */
  report?: { path: string; format: ReportFormat };
  summary: boolean;
}

export function writeOutputs(data: ReportData, settings: OutputSettings): void {
  const options: SummaryOptions = {};
  if (settings.report !== undefined) {
    try {
      options.reportPath = writeReportSync(data, settings.report.path, settings.report.format);
    } catch (error) {
      // The summary is still worth having, and it says why the report is missing.
      options.reportError = { path: settings.report.path, reason: error instanceof Error ? error.message : String(error) };
    }
  }
  try {
    if (settings.summary) process.stderr.write(formatSummary(data, options));
    else if (options.reportError !== undefined) {
      process.stderr.write(`loopguard: report not written to ${options.reportError.path}: ${options.reportError.reason}\n`);
    }
  } catch {
    // stderr closed: nothing else to do
  }
}
