/** Write a report file synchronously: it runs inside process 'exit', where nothing async happens. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ReportData } from './collect.js';
import { renderHtml } from './html.js';
import type { ReportFormat } from '../zero-code/settings.js';

export function renderReport(data: ReportData, format: ReportFormat): string {
  return format === 'html' ? renderHtml(data) : `${JSON.stringify(data, null, 2)}\n`;
}

/** Returns the absolute path written. */
export function writeReportSync(data: ReportData, path: string, format: ReportFormat): string {
  const absolute = resolve(path);
  mkdirSync(dirname(absolute), { recursive: true });
  writeFileSync(absolute, renderReport(data, format));
  return absolute;
}
