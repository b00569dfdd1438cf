// Type tests for loopguard/queue (checked by `tsc --noEmit`, never run).
import { expectTypeOf } from 'vitest';
import { threaded, type ThreadedFunction } from '../../src/index.js';
import { createQueue, type EnqueuedJob, type JobStatus, type Queue, type QueueStats } from '../../src/queue.js';

declare const render: (id: string, pages: number) => Promise<{ pdf: Buffer; at: Date }>;

const queue: Queue = createQueue({ url: process.env.QUEUE_URL, name: 'reports' });
// A queue-marked function keeps the signature of the function it marks.
const renderReport = threaded(render, { queue });
expectTypeOf(renderReport).toEqualTypeOf<ThreadedFunction<[id: string, pages: number], Promise<{ pdf: Buffer; at: Date }>>>();
expectTypeOf(renderReport).returns.toEqualTypeOf<Promise<{ pdf: Buffer; at: Date }>>();

expectTypeOf(queue.enqueue(renderReport, ['7', 3])).toEqualTypeOf<Promise<EnqueuedJob>>();
expectTypeOf(queue.run(renderReport, ['7', 3])).toEqualTypeOf<Promise<{ pdf: Buffer; at: Date }>>();
// @ts-expect-error the arguments must match the function's
void queue.enqueue(renderReport, [7, 3]);
// @ts-expect-error an unknown per-job option
void queue.enqueue(renderReport, ['7', 3], { attempts: 3 });
expectTypeOf(queue.status('id')).toEqualTypeOf<Promise<JobStatus<unknown>>>();
expectTypeOf(queue.result<string>('id', { timeout: 1_000 })).toEqualTypeOf<Promise<string>>();
expectTypeOf(queue.stats()).toEqualTypeOf<QueueStats>();
expectTypeOf(queue.stats()['renderReport']!.runMs).toEqualTypeOf<{ p50: number; p99: number }>();
expectTypeOf(queue.close()).toEqualTypeOf<Promise<void>>();
// @ts-expect-error a queue must be a loopguard Queue
threaded(render, { queue: { run: async () => 1 } });
