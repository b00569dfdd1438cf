import { jsonLine } from '../../shared/terminal-text.js';
import type { WorkerLogger, WorkerLogRecord } from './options.js';

export type WorkerLog = (record: WorkerLogRecord, level?: 'info' | 'warn') => void;

/** One JSON line per record on stderr, shaped like the monitor's (`level`, `time`, `pid`, `msg`). */
export function workerLog(log: 'json' | false | WorkerLogger): WorkerLog {
  if (log === false) return () => {};
  if (log === 'json') {
    // A job's lines are gathered and written together: stderr is synchronous on Linux (a file,
    // a pipe, a terminal), each write a system call, and a burst of tiny jobs paid for two a job.
    // A `job settled` line is written by a microtask queued as the job settles, with the lines
    // before it: ahead of the reactions that hand the outcome to the backend, so still before the
    // outcome can reach its caller. A `job started` line is written by a tick (process.nextTick),
    // which, queued from a microtask (BullMQ and pg-boss start a job from one), runs once the
    // microtask queue is empty: a job that settles meanwhile, as a synchronous inline one does,
    // writes both lines at once. Any other line (the worker's start and stop, errors) goes out
    // at once, after the lines waiting for it. So an inline function that blocks the loop holds
    // its job's start line until it returns, as it holds everything else on this loop; the
    // monitor's report of the block, with the job in its context, is what says it meanwhile.
    let pending = '';
    let inMicrotask = false;
    let inTick = false;
    const flush = (): void => {
      if (pending === '') return;
      const text = pending;
      pending = '';
      process.stderr.write(text);
    };
    const flushMicrotask = (): void => {
      inMicrotask = false;
      flush();
    };
    const flushTick = (): void => {
      inTick = false;
      flush();
    };
    return (record, level = 'info') => {
      // The record's own JSON behind the three fields: no rest and spread copies of it (two a
      // line, two lines a job). Every record is written `{ msg, ... }`, so the line still reads
      // level, time, pid, msg, then the rest, as the monitor's lines do.
      const text = jsonLine(record);
      pending += `{"level":"${level}","time":${Date.now()},"pid":${process.pid}${text.length > 2 ? `,${text.slice(1)}` : '}'}\n`;
      if (record.msg === 'job settled') {
        if (!inMicrotask) {
          inMicrotask = true;
          queueMicrotask(flushMicrotask);
        }
      } else if (record.msg === 'job started') {
        if (!inTick) {
          inTick = true;
          process.nextTick(flushTick);
        }
      } else flush();
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
