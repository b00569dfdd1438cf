/**
 * Which thread takes the next task (ThreadSet.pick), on threads whose loads are set up by
 * hand: the rules are about what each thread already holds, which a real pool only shows
 * through timing. The threads are real PoolThread objects without a worker behind them.
 */
import { describe, expect, it } from 'vitest';
import { Fifo, type Task } from '../../src/pool/main/task.js';
import { PoolThread } from '../../src/pool/main/thread.js';
import { ThreadSet } from '../../src/pool/main/threads.js';

const MiB = 1024 * 1024;

/** A thread holding tasks of the given depths and buffer sizes, in that order. */
function threadHolding(tasks: Array<{ depth: number; bytes?: number }>): PoolThread {
  const thread = Object.create(PoolThread.prototype) as PoolThread;
  Object.assign(thread, { inflight: new Fifo<Task>(), outbox: [], depthCap: Number.POSITIVE_INFINITY });
  for (const { depth, bytes = 0 } of tasks) {
    thread.outbox.push({ bytes } as Task);
    thread.took(depth);
  }
  return thread;
}

function fullSet(...threads: PoolThread[]): ThreadSet {
  const host = { onResults() {}, onExit() {}, onCloneError() {} };
  const set = new ThreadSet(host, {
    minThreads: threads.length,
    maxThreads: threads.length,
    idleTimeout: Number.POSITIVE_INFINITY,
    maxQueue: Number.POSITIVE_INFINITY,
    taskTimeout: 0,
    queueWarning: 0,
    resourceLimits: undefined,
    name: 'test',
  });
  set.list.push(...threads);
  return set;
}

const tiny = { depth: 2048 };
const long = { depth: 1 };

describe('choosing a thread for the next task', () => {
  it('puts a short task on the thread that holds short ones, not behind a long one', () => {
    const holdingLong = threadHolding([long]);
    const holdingShort = threadHolding([tiny, tiny, tiny]);
    expect(fullSet(holdingLong, holdingShort).pick(tiny.depth, 0)).toBe(holdingShort);
  });

  it('keeps the cap of a long task until the thread is empty, whatever joins before it', () => {
    const mixed = threadHolding([tiny, long]);
    expect(mixed.accepts(tiny.depth)).toBe(false);
    expect(threadHolding([tiny, tiny]).accepts(tiny.depth)).toBe(true);
  });

  it('picks the least loaded of the threads that accept the task', () => {
    const two = threadHolding([tiny, tiny]);
    const one = threadHolding([tiny]);
    expect(fullSet(two, one).pick(tiny.depth, 0)).toBe(one);
  });

  it('makes a task wait when every thread is at its depth', () => {
    expect(fullSet(threadHolding([long]), threadHolding([long])).pick(tiny.depth, 0)).toBeUndefined();
    expect(fullSet(threadHolding([{ depth: 2 }, { depth: 2 }])).pick(2, 0)).toBeUndefined();
  });

  it('sends buffers past a thread that already holds 1 MiB of them to one that does not', () => {
    const heavy = threadHolding([{ depth: 2048, bytes: MiB }]);
    const light = threadHolding([tiny, tiny, tiny]);
    expect(fullSet(heavy, light).pick(tiny.depth, 64 * 1024)).toBe(light);
    // A task without buffers may still join the thread that holds them.
    expect(fullSet(heavy, light).pick(tiny.depth, 0)).toBe(heavy);
  });

  it('makes a buffer wait when every thread already holds 1 MiB of them', () => {
    const heavy = threadHolding([{ depth: 2048, bytes: MiB }]);
    expect(fullSet(heavy).pick(tiny.depth, 64 * 1024)).toBeUndefined();
  });
});
