// One shape for every pool under test: call(task, args, transferList?) → Promise, close().
import { createPool, transfer } from 'loopguard';
import Piscina from 'piscina';
import Tinypool from 'tinypool';
import workerpool from 'workerpool';
import * as marked from './loopguard-tasks.mjs';

const tasksWorker = new URL('./tasks-worker.mjs', import.meta.url);
const workerpoolWorker = new URL('./workerpool-worker.mjs', import.meta.url);

export const pools = {
  async loopguard(threads) {
    const pool = createPool({ minThreads: threads, maxThreads: threads, name: 'bench', queueWarning: 0 });
    return {
      call: (task, args, transferList) =>
        pool.run(marked[task], transferList === undefined ? args : [transfer(args[0], transferList)]),
      close: () => pool.close(),
    };
  },
  async piscina(threads) {
    const pool = new Piscina({ filename: tasksWorker.href, minThreads: threads, maxThreads: threads, idleTimeout: 60_000 });
    return {
      call: (task, args, transferList) => pool.run(args, { name: task, ...(transferList && { transferList }) }),
      close: () => pool.destroy(),
    };
  },
  async tinypool(threads) {
    const pool = new Tinypool({ filename: tasksWorker.href, minThreads: threads, maxThreads: threads, idleTimeout: 60_000 });
    return {
      call: (task, args, transferList) => pool.run(args, { name: task, ...(transferList && { transfer: transferList }) }),
      close: () => pool.destroy(),
    };
  },
  async workerpool(threads) {
    const pool = workerpool.pool(workerpoolWorker.pathname, { minWorkers: threads, maxWorkers: threads, workerType: 'thread' });
    return {
      call: (task, args, transferList) => pool.exec(task, args, transferList ? { transfer: transferList } : undefined),
      close: () => pool.terminate(),
    };
  },
};
