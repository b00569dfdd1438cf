import { jsonLine } from '../../shared/terminal-text.js';
import type { WorkerLogger, WorkerLogRecord } from './options.js';

export type WorkerLog = (record: WorkerLogRecord, level?: 'info' | 'warn') => void;

/** One JSON line per record on stderr, shaped like the monitor's (`level`, `time`, `pid`, `msg`). */
export function workerLog(log: 'json' | false | WorkerLogger): WorkerLog {
  if (log === false) return () => {};
  if (log === 'json') {
    return (record, level = 'info') => {
      // The record's own JSON behind the three fields: no rest and spread copies of it (two a
      // line, two lines a job). Every record is written `{ msg, ... }`, so the line still reads
      // level, time, pid, msg, then the rest, as the monitor's lines do.
      const text = jsonLine(record);
      process.stderr.write(`{"level":"${level}","time":${Date.now()},"pid":${process.pid}${text.length > 2 ? `,${text.slice(1)}` : '}'}\n`);
    };
  }
  return (record, level = 'info') => {
    const { msg, ...fields } = record;
    try {
      if (level === 'warn' && typeof log.warn === 'function') log.warn(fields, msg);
      else log.info(fields, msg);
    } catch {
      // The user's logger failed: its line is lost, the job is not (a throw here would fail it).
    }
  };
}

/** The parts of an error a log line shows: never its stack or own data (they may be large or secret). */
export function errorSummary(error: unknown): { name: string; code?: string; message: string } {
  if (error !== null && typeof error === 'object') {
    const { name, code, message } = error as { name?: unknown; code?: unknown; message?: unknown };
    return {
      name: typeof name === 'string' ? name : 'Error',
      ...(typeof code === 'string' ? { code } : {}),
      message: typeof message === 'string' ? message : String(error),
    };
  }
  return { name: typeof error, message: String(error) };
}
