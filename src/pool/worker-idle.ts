// Pool-thread side (imported by worker.ts only): how an idle thread waits for its next batch.
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { SLOT_DOORBELL } from './protocol.js';

/**
 * Spin this long (ms) after the last task before sleeping. A caller that awaits one result at a
 * time posts its next task about one main-thread wake-up after the result left; a thread that
 * is still spinning takes it at once, where a sleeping one would need a wake-up of its own (on
 * a virtual machine with idle CPUs, tens of µs each way).
 */
const SPIN_MS = 0.15;
/**
 * After a spin that ended with no message, skip spinning for this many waits. A spin fails
 * when the main thread is slow to answer, typically because the machine is busy, and then the
 * spinning thread only takes CPU from the main thread it waits for (measured on 2 loaded
 * cores: round trips got slower with spinning, not faster).
 */
const SPIN_BACKOFF = 32;

let skipSpins = 0;
/**
 * Wait on the doorbell only after a stretch of at most this many tasks: the pattern of a caller
 * awaiting each result, where latency is everything. After a longer stretch (a burst) the main
 * thread is the bottleneck: a spinning thread would take CPU from it (2 threads + the main
 * thread on 2 cores), and even the sleeping wait measured ~0.2 µs of thread CPU per task more
 * than returning to the event loop, which takes whatever messages queued up in one wake-up.
 */
export const WAIT_AFTER_TASKS = 4;
/** Then sleep on the doorbell up to this long (ms) before going back to the event loop. */
const WAIT_MS = 2;
/** A thread kept busy by messages taken this way still gives its event loop a turn this often (ms). */
const LOOP_TURN_MS = 10;

let lastLoopTurn = performance.now();

/** The thread is back in its event loop (a message arrived as an event). */
export function noteLoopTurn(): void {
  lastLoopTurn = performance.now();
}

/**
 * Messages taken with {@link nextMessage} never return to the event loop, so a steady stream
 * would starve the thread's timers, I/O and the microtasks of work a task left running in the
 * background. Resolves after one turn of the loop (setImmediate: after its poll phase) when
 * the last turn is older than LOOP_TURN_MS; undefined otherwise (no await needed).
 */
export function loopTurnIfDue(): Promise<void> | undefined {
  if (performance.now() - lastLoopTurn < LOOP_TURN_MS) return undefined;
  return new Promise<void>((resolve) =>
    setImmediate(() => {
      lastLoopTurn = performance.now();
      resolve();
    }),
  );
}

/**
 * The next message for this thread if one comes within a few ms, taken with
 * receiveMessageOnPort (no event-loop turn, no 'message' dispatch); otherwise undefined, and
 * the caller returns to its event loop, where messages arrive as events again. The main thread
 * rings the doorbell (bumps the slot and notifies) after every post, so a changed slot means a
 * message is already queued on the port. The wait is bounded because while it lasts the
 * thread's event loop does not run: timers or I/O that a task started in the background wait
 * at most this long, and `worker.terminate()` interrupts it anyway.
 */
export function nextMessage(port: MessagePort, control: Int32Array): unknown {
  const start = performance.now();
  const spinMs = skipSpins > 0 ? 0 : SPIN_MS;
  if (skipSpins > 0) skipSpins--;
  let bell = Atomics.load(control, SLOT_DOORBELL);
  for (;;) {
    const received = receiveMessageOnPort(port);
    if (received !== undefined) return received.message;
    let elapsed = performance.now() - start;
    while (elapsed < spinMs && Atomics.load(control, SLOT_DOORBELL) === bell) elapsed = performance.now() - start;
    if (elapsed >= spinMs) {
      if (spinMs > 0) skipSpins = SPIN_BACKOFF;
      if (elapsed >= spinMs + WAIT_MS) return undefined;
      Atomics.wait(control, SLOT_DOORBELL, bell, spinMs + WAIT_MS - elapsed);
      if (Atomics.load(control, SLOT_DOORBELL) === bell) return undefined; // timed out
    }
    bell = Atomics.load(control, SLOT_DOORBELL);
  }
}
