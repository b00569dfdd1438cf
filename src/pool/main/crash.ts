import type { Task } from './task.js';

/** A task whose result died with its thread (it had finished) runs again at most this often. */
const MAX_RETRIES = 3;

/**
 * Which tasks of a thread that died on its own (process.exit, out of memory, an uncaught
 * error) fail, and which go back to the queue. `started` is how many tasks the thread had
 * started (it counts them in shared memory, so this survives the crash): the task with that
 * number was running and is the culprit; tasks behind it never ran and are requeued; tasks
 * before it had finished but their results were lost, so they run again, a bounded number of
 * times. A thread that never started a task failed to boot: all its tasks fail, or a broken
 * set-up would respawn threads forever.
 */
export function attributeCrash(tasks: Task[], started: number): { culprits: Task[]; requeued: Task[] } {
  const culprits: Task[] = [];
  const requeued: Task[] = [];
  for (const task of tasks) {
    const ranBefore = task.seq < started;
    if (started === 0 || task.seq === started || (ranBefore && task.retries >= MAX_RETRIES)) {
      culprits.push(task);
    } else {
      if (ranBefore) task.retries++;
      requeued.push(task);
    }
  }
  return { culprits, requeued };
}
