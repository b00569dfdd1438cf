// The worker's JSON log: the per-job info lines of one turn of the loop go out in one write to
// stderr (a burst of tiny jobs made two system calls a job), in the order they were logged, and
// any other line, a flush() or the process's exit writes what is held first.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { workerLog } from '../../src/queue/worker/log.js';
import type { WorkerLogRecord } from '../../src/queue/worker/options.js';

const started = (id: string): WorkerLogRecord => ({ msg: 'job started', queue: 'q', fn: 'add', id, attempt: 1 });
const settled = (id: string): WorkerLogRecord => ({ msg: 'job settled', queue: 'q', fn: 'add', id, attempt: 1, ms: 0, outcome: 'completed' });
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('worker JSON log', () => {
  let writes: string[];
  beforeEach(() => {
    writes = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());

  const messages = () => writes.join('').trim().split('\n').map((line) => (JSON.parse(line) as { msg: string; id?: string }));

  it('writes the job lines of one turn together, after it', async () => {
    const log = workerLog('json');
    for (const id of ['1', '2', '3']) {
      log.job(started(id));
      log.job(settled(id));
    }
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toHaveLength(1);
    expect(messages().map(({ msg, id }) => `${msg} ${id}`)).toEqual([
      'job started 1', 'job settled 1', 'job started 2', 'job settled 2', 'job started 3', 'job settled 3',
    ]);
    log.close();
    expect(process.listenerCount('exit')).toBe(exitListeners);
  });

  it('writes what is held before any other line, and on flush()', async () => {
    const log = workerLog('json');
    log.job(started('1'));
    log({ msg: 'worker stopping', queue: 'q' }, 'warn');
    expect(messages().map(({ msg }) => msg)).toEqual(['job started', 'worker stopping']);
    log.job(started('2'));
    log.flush();
    expect(messages().map(({ msg }) => msg)).toEqual(['job started', 'worker stopping', 'job started']);
    await nextTurn();
    expect(writes).toHaveLength(2); // the held line went out with the warning, in one write
    log.close();
  });

  it('writes what is held when the process exits before the next turn', () => {
    const log = workerLog('json');
    log.job(started('1'));
    process.emit('exit', 0);
    expect(messages().map(({ msg }) => msg)).toEqual(['job started']);
    log.close();
    expect(process.listenerCount('exit')).toBe(exitListeners);
  });

  it('a logger of the user\'s gets each line at once', () => {
    const info = vi.fn();
    const log = workerLog({ info });
    log.job(started('1'));
    expect(info).toHaveBeenCalledWith({ queue: 'q', fn: 'add', id: '1', attempt: 1 }, 'job started');
  });
});

const exitListeners = process.listenerCount('exit');
