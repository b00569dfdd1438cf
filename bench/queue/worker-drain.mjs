// The worker process's CPU per job with the caller out of the loop: the queue is paused, filled
// with N jobs, resumed, and the worker's CPU (all threads, and its main thread, from
// /proc/<pid>/task/*/schedstat) is read from the resume until every job completed. bench/queue.mjs
// measures a burst with the caller, the worker and Redis sharing the cores; this measures the
// worker alone (Redis beside it), with its code warmed up by 300 jobs first.
// Variants: `raw` (raw-worker.mjs, BullMQ's default job options), `rawopts` (the same, the jobs
// sent with loopguard's options), `rawnoprio` (those options but the priority), `inline`
// (`loopguard worker --threads 0` of this tree's dist, or of another build:
// `inline=/path/to/dist`, e.g. main's, to alternate two builds in one run). Redis's CPU a job
// is read beside the worker's.
// Usage: node bench/queue/worker-drain.mjs [--jobs 4000] [--rounds 5] [--variants raw,rawopts,inline]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { startRedis } from './servers.mjs';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '4000' },
    rounds: { type: 'string', default: '5' },
    variants: { type: 'string', default: 'raw,rawopts,inline' },
  },
});
const jobs = Number(values.jobs);
const rounds = Number(values.rounds);
const variants = values.variants.split(',');
const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const WARM_UP = 300;
/** What loopguard's BullMQ backend sends with a job of default options (raw-client.mjs's SAME_JOB_OPTIONS). */
const SAME_JOB_OPTIONS = { attempts: 1, priority: 1_048_576, stackTraceLimit: 1, removeOnComplete: { age: 604_800 }, removeOnFail: { age: 604_800 } };
/** The same without the priority (`rawnoprio`): what prioritizing every job costs. */
const { priority: _priority, ...UNPRIORITIZED_OPTIONS } = SAME_JOB_OPTIONS;

/** µs of CPU a process's threads (or its main thread only) have run so far. */
function cpu(pid, mainOnly = false) {
  let ns = 0;
  for (const tid of mainOnly ? [String(pid)] : readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // a thread that ended meanwhile
    }
  }
  return ns / 1e3;
}

const redis = await startRedis();
if (redis === undefined) throw new Error('needs redis-server (apt-get install -y redis-server)');
const results = {};
let queues = 0;
try {
  for (let round = 0; round < rounds; round++) {
    for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
      const name = `drain-${queues++}`;
      const [kind, dist = here('../../dist')] = variant.split('=');
      const queue = new Queue(name, { connection: { url: redis.url } });
      const args =
        kind === 'inline'
          ? [`${dist}/cli.js`, 'worker', here('./tasks.mjs'), '--queue', redis.url, '--name', name, '--concurrency', '4', '--threads', '0']
          : [here('./raw-worker.mjs'), 'bullmq', redis.url, name, '4'];
      // The worker's job log goes to /dev/null, as in bench/queue.mjs.
      const child = spawn(process.execPath, args, { stdio: 'ignore' });
      let app;
      let add;
      if (kind === 'inline') {
        const { createQueue } = await import(`${dist}/queue.js`);
        ({ add } = await import('./tasks.mjs'));
        app = createQueue({ url: redis.url, name });
      }
      const fill = async (count) => {
        if (app !== undefined) {
          for (let i = 0; i < count; i += 500) await Promise.all(Array.from({ length: Math.min(500, count - i) }, (_, j) => app.enqueue(add, [i + j, 1])));
        } else {
          const opts = kind === 'rawopts' ? SAME_JOB_OPTIONS : kind === 'rawnoprio' ? UNPRIORITIZED_OPTIONS : undefined;
          await queue.addBulk(Array.from({ length: count }, (_, i) => ({ name: 'add', data: { fn: 'add', args: [i, 1] }, opts })));
        }
      };
      const completed = async (count) => {
        while ((await queue.getJobCounts('completed')).completed < count) await new Promise((resolve) => setTimeout(resolve, 20));
      };
      await fill(WARM_UP);
      await completed(WARM_UP);
      await queue.pause();
      await fill(jobs);
      const all = cpu(child.pid);
      const main = cpu(child.pid, true);
      const server = cpu(redis.pid);
      const started = performance.now();
      await queue.resume();
      await completed(WARM_UP + jobs);
      const elapsed = performance.now() - started;
      (results[variant] ??= []).push({ all: (cpu(child.pid) - all) / jobs, main: (cpu(child.pid, true) - main) / jobs, redis: (cpu(redis.pid) - server) / jobs, perSecond: (jobs / elapsed) * 1000 });
      child.kill('SIGTERM');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
      await app?.close();
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
    }
  }
} finally {
  await redis.stop();
}
const median = (list, key) => list.map((entry) => entry[key]).sort((a, b) => a - b)[Math.floor(list.length / 2)];
console.log(`Node ${process.version}; ${jobs} jobs a round after ${WARM_UP} warm-up jobs, concurrency 4; medians of ${rounds} alternated rounds\n`);
console.log('| variant | worker CPU µs/job (all threads) | main thread | Redis | jobs/s | all threads, each round |');
console.log('|---|---:|---:|---:|---:|---|');
for (const [variant, list] of Object.entries(results)) {
  console.log(`| ${variant} | ${median(list, 'all').toFixed(0)} | ${median(list, 'main').toFixed(0)} | ${median(list, 'redis').toFixed(0)} | ${median(list, 'perSecond').toFixed(0)} | ${list.map((entry) => entry.all.toFixed(0)).join(', ')} |`);
}
