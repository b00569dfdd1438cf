import { jsonLine } from '../../shared/terminal-text.js';
import type { WorkerLogger, WorkerLogRecord } from './options.js';

/**
 * The worker's log: a call writes its record at once; `job()` is for the two info lines of every
 * job (`job started`, `job settled` completed), which a JSON log may hold until the end of the
 * turn of the loop and write together; `flush()` writes what is held (before an inline job runs:
 * its `job started` line is out before the job can block the loop).
 */
export interface WorkerLog {
  (record: WorkerLogRecord, level?: 'info' | 'warn'): void;
  job(record: WorkerLogRecord): void;
  flush(): void;
  /** Write what is held and stop listening for the process's exit (the worker stopped). */
  close(): void;
}

/** One JSON line per record on stderr, shaped like the monitor's (`level`, `time`, `pid`, `msg`). */
export function workerLog(log: 'json' | false | WorkerLogger): WorkerLog {
  if (log === false) return Object.assign(() => {}, { job: () => {}, flush: () => {}, close: () => {} });
  if (log === 'json') return jsonLog();
  const write = (record: WorkerLogRecord, level: 'info' | 'warn' = 'info') => {
    const { msg, ...fields } = record;
    try {
      if (level === 'warn' && typeof log.warn === 'function') log.warn(fields, msg);
      else log.info(fields, msg);
    } catch {
      // The user's logger failed: its line is lost, the job is not (a throw here would fail it).
    }
  };
  return Object.assign(write, { job: (record: WorkerLogRecord) => write(record), flush: () => {}, close: () => {} });
}

/**
 * The JSON log. A burst of tiny jobs made two writes to stderr a job, a system call each (through
 * the monitor's sync-call wrapper when stderr is a file): about a third of the worker's own CPU
 * per job. The per-job info lines are held and written in one write per turn of the loop (a
 * setImmediate, which keeps the loop only until it runs), or on exit if the process exits first
 * (one 'exit' listener from the first job line to close(), not one a batch); any other line
 * writes what is held, then itself, so the order of the lines never changes.
 */
function jsonLog(): WorkerLog {
  let held = '';
  let scheduled = false;
  let hooked = false;
  const line = (record: WorkerLogRecord, level: 'info' | 'warn') => {
    const { msg, ...fields } = record;
    return `${jsonLine({ level, time: Date.now(), pid: process.pid, msg, ...fields })}\n`;
  };
  const flush = () => {
    if (held === '') return;
    const text = held;
    held = '';
    process.stderr.write(text);
  };
  const onImmediate = () => {
    scheduled = false;
    flush();
  };
  const write = (record: WorkerLogRecord, level: 'info' | 'warn' = 'info') => {
    const text = line(record, level);
    if (held === '') {
      process.stderr.write(text);
      return;
    }
    held += text;
    flush();
  };
  const job = (record: WorkerLogRecord) => {
    if (!hooked) {
      hooked = true;
      process.on('exit', flush);
    }
    held += line(record, 'info');
    if (!scheduled) {
      scheduled = true;
      setImmediate(onImmediate);
    }
  };
  const close = () => {
    flush();
    process.removeListener('exit', flush);
    hooked = false;
  };
  return Object.assign(write, { job, flush, close });
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
