// The caller's side written against each raw client, as its users would: send a job, then
// wait for its result — BullMQ through QueueEvents (`job.waitUntilFinished`), pg-boss, which
// has no completion events, by looking the pending jobs up every `pollInterval` ms (the same
// period as loopguard's default `pollInterval`, so both wait alike).
// sameJobOptions (BullMQ): every job sent with the options loopguard's backend gives each job
// (backends/bullmq.ts send(): one priority for all, settled jobs kept 7 days, one stack line),
// so that Redis does the same work for both; without it, BullMQ's defaults (no priority, every
// job kept forever).
export async function rawClient(backend, url, name, { pollInterval = 100, sameJobOptions = false } = {}) {
  if (backend === 'pg-boss') {
    const { PgBoss } = await import('pg-boss');
    const boss = new PgBoss({ connectionString: url, supervise: false, schedule: false });
    boss.on('error', (error) => console.error(error));
    await boss.start();
    await boss.createQueue(name, { notify: true });
    const pending = new Map(); // id → { resolve, reject }
    let timer;
    const poll = async () => {
      timer = undefined;
      await Promise.all(
        [...pending].map(async ([id, waiter]) => {
          const job = await boss.getJobById(name, id);
          if (job?.state === 'completed') waiter.resolve(job.output?.value);
          else if (job?.state === 'failed') waiter.reject(new Error(JSON.stringify(job.output)));
          else return;
          pending.delete(id);
        }),
      );
      if (pending.size > 0) timer = setTimeout(poll, pollInterval);
    };
    return {
      async call(fn, args) {
        const id = await boss.send(name, { fn, args });
        return new Promise((resolve, reject) => {
          pending.set(id, { resolve, reject });
          timer ??= setTimeout(poll, pollInterval);
        });
      },
      close: () => boss.stop({ graceful: false }),
    };
  }
  const { Queue, QueueEvents } = await import('bullmq');
  const connection = { url };
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  queue.on('error', (error) => console.error(error));
  events.on('error', (error) => console.error(error));
  await events.waitUntilReady();
  // waitUntilFinished() listens on the queue once per pending job: a thousand at once is the point.
  queue.setMaxListeners(0);
  return {
    async call(fn, args) {
      const job = await queue.add(fn, { fn, args }, sameJobOptions ? SAME_JOB_OPTIONS : undefined);
      return job.waitUntilFinished(events);
    },
    async close() {
      await events.close();
      await queue.close();
    },
  };
}

const RETENTION = 7 * 24 * 60 * 60;
/** What loopguard's BullMQ backend sends with a job of default options (priority 0 → 1,048,576). */
const SAME_JOB_OPTIONS = {
  attempts: 1,
  priority: 1_048_576,
  stackTraceLimit: 1,
  removeOnComplete: { age: RETENTION },
  removeOnFail: { age: RETENTION },
};
