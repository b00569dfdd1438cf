import { afterEach, describe, expect, it, vi } from 'vitest';
import { workerLog } from '../../src/queue/worker/log.js';

// The worker's JSON log gathers a job's lines into one write; these pin when each line must be
// out: a settled line before anything queued after it can run (the job's outcome is handed to
// the backend by later reactions), a started line by the end of the tick, any other at once.
describe('the worker log (json)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const capture = (): string[] => {
    const writes: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    return writes;
  };
  const job = { queue: 'reports', fn: 'render', id: '7', attempt: 1 };

  it('writes a job that settles in the microtask it started in with one write, before what follows it', async () => {
    const writes = capture();
    const log = workerLog('json');
    // As a job is run: started from a microtask, settled a microtask later, its outcome handed on after.
    const seenByTheBackend = await Promise.resolve().then(async () => {
      log({ msg: 'job started', ...job });
      await Promise.resolve();
      log({ msg: 'job settled', ...job, ms: 0, outcome: 'completed' });
      return new Promise<string[]>((resolve) => queueMicrotask(() => resolve([...writes])));
    });
    expect(seenByTheBackend).toHaveLength(1);
    const lines = seenByTheBackend[0]!.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => line.msg)).toEqual(['job started', 'job settled']);
    expect(lines[1]).toMatchObject({ level: 'info', pid: process.pid, ...job, outcome: 'completed' });
  });

  it('writes a started line of a job still running by the end of the tick', async () => {
    const writes = capture();
    const log = workerLog('json');
    await Promise.resolve().then(() => log({ msg: 'job started', ...job }));
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toHaveLength(1);
    expect(JSON.parse(writes[0]!)).toMatchObject({ msg: 'job started', id: '7' });
  });

  it('writes any other line at once, after the job lines waiting for it', () => {
    const writes = capture();
    const log = workerLog('json');
    log({ msg: 'job started', ...job });
    log({ msg: 'worker stopping', queue: 'reports' }, 'warn');
    expect(writes).toHaveLength(1);
    expect(writes[0]!.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(['job started', 'worker stopping']);
  });
});
