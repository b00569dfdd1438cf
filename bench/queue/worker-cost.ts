// Per-job CPU of loopguard's own worker-side code, with BullMQ and Redis faked out: the processor
// that bullmq-work.ts hands BullMQ, calling worker.ts's attempt (inline, `threads: 0`), fed jobs 4
// at a time in this one process, against a raw processor doing the same add(). Nothing else runs,
// so the figure does not move with the host's load the way bench/queue.mjs's do.
// Usage: npx tsx bench/queue/worker-cost.ts 2>/dev/null (N=30000 jobs a round, LOG=false: no job log, MON=off: no monitor)
import { BullMQBackend } from '../../src/queue/backends/bullmq.js';
import { startBullMQWorker } from '../../src/queue/backends/bullmq-work.js';
import { startWorker } from '../../src/queue/worker/worker.js';
import { encodeArguments } from '../../src/queue/payload.js';
import * as work from './work.mjs';

// The processor startBullMQWorker() hands BullMQ's Worker, caught by a fake Worker class.
let processor: any;
const fakeBullmq = {
  Worker: class {
    constructor(_name: string, given: unknown) {
      processor = given;
    }
    on() {}
    waitUntilReady() {
      return Promise.resolve();
    }
    close() {
      return Promise.resolve();
    }
    cancelJob() {
      return false;
    }
  },
  UnrecoverableError: Error,
};
class FakeRedis {
  on() {}
  subscribe() {
    return Promise.resolve();
  }
  disconnect() {}
}
// The worker opens a BullMQBackend for its redis:// URL: its connection is faked, its work() is
// the real worker side over the fakes.
const proto = BullMQBackend.prototype as any;
proto.connect = async () => {};
proto.close = async () => {};
proto.work = async function (options: any, handler: any) {
  const context = {
    bullmq: fakeBullmq as any,
    IORedis: FakeRedis as any,
    url: 'redis://fake',
    name: 'cost',
    prefix: 'bull',
    stalledInterval: 1000,
    commands: {} as any,
    publishError() {},
    jobKey: (id: string) => id,
    keys: { cancelChannel: 'cancel' },
    fields: { output: 'output', cancel: 'cancel' },
  };
  return startBullMQWorker(context, options, handler);
};

const worker = await startWorker({
  url: 'redis://127.0.0.1:1',
  name: 'cost',
  modules: [new URL('./tasks.mjs', import.meta.url).pathname],
  concurrency: 4,
  threads: 0,
  log: process.env.LOG === 'false' ? false : 'json',
  monitor: process.env.MON === 'off' ? false : {},
});
const N = Number(process.env.N ?? 30000);
const argsText = encodeArguments('add', [1, 1]);
/** A BullMQ Job as the processor reads it: the raw one's data is the plain arguments. */
const job = (i: number, raw: boolean) => ({
  id: String(i),
  name: 'add',
  data: raw ? { fn: 'add', args: [i, 1] } : { fn: 'add', args: argsText, timeout: 60000 },
  opts: { attempts: 1 },
  attemptsStarted: 1,
  attemptsMade: 0,
  timestamp: Date.now(),
  processedOn: Date.now(),
  extendLock: async () => 1,
  updateProgress: async () => {},
});
const rawProcessor = async (given: any) => (work as any)[given.data.fn](...given.data.args);

/** N jobs through `run`, 4 at a time (the bench's concurrency): CPU and wall µs a job. */
async function measure(run: any, raw: boolean) {
  let next = 0;
  const lane = async () => {
    while (next < N) await run(job(next++, raw), 'token', new AbortController().signal);
  };
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all([lane(), lane(), lane(), lane()]);
  const { user, system } = process.cpuUsage(cpu);
  return { cpu: (user + system) / N, wall: ((performance.now() - started) * 1000) / N };
}

// The first round warms up; the job log goes to stderr (send it to /dev/null, as the bench does).
for (let round = 0; round < 3; round++) {
  const raw = await measure(rawProcessor, true);
  const ours = await measure(processor, false);
  console.log(
    `round ${round}: raw ${raw.cpu.toFixed(2)} µs CPU a job, loopguard ${ours.cpu.toFixed(2)} µs CPU a job (wall ${ours.wall.toFixed(2)} µs)`,
  );
}
await worker.stop();
