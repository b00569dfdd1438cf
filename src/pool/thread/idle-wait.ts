// Pool-thread side (imported by worker.ts only): how an idle thread waits for its next batch.
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { SLOT_DOORBELL } from '../protocol.js';

/**
 * Spin this long (ms) after the last task before sleeping. A caller that awaits one result at a
 * time posts its next task about one main-thread wake-up after the result left; a thread that
 * is still spinning takes it at once, where a sleeping one would need a wake-up of its own (on
 * a virtual machine with idle CPUs, tens of µs each way).
 */
const SPIN_MS = 0.1;
/**
 * A spin loop that sees a gap of this long (ms) between two clock readings was preempted:
 * another thread wanted this CPU, very likely the main thread with the next task (2 pool
 * threads and the main thread on 2 cores, or a busy machine). Spinning then delays the
 * very message it waits for: on 2 loaded cores, unconditional spinning made p90 round trips
 * as long as the spin. Such a spin, or one that ends with no message, counts as a failure:
 * each failure doubles the number of waits (up to 64) that sleep without spinning, and a spin
 * that catches its message unpreempted undoes one failure (not all: on a busy machine spins
 * fail now and then, and each failure costs the round trip that hit it up to SPIN_MS).
 */
const PREEMPTED_MS = 0.02;
let spinFailures = 0;
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
  let spinning = skipSpins === 0;
  if (!spinning) skipSpins--;
  let bell = Atomics.load(control, SLOT_DOORBELL);
  for (;;) {
    const received = receiveMessageOnPort(port);
    if (received !== undefined) {
      if (spinning && spinFailures > 0) spinFailures--;
      return received.message;
    }
    let now = performance.now();
    let preempted = false;
    for (let last = now; spinning && now - start < SPIN_MS && Atomics.load(control, SLOT_DOORBELL) === bell; last = now) {
      now = performance.now();
      preempted = now - last > PREEMPTED_MS;
      if (preempted) break;
    }
    if (preempted || Atomics.load(control, SLOT_DOORBELL) === bell) {
      if (spinning) skipSpins = 2 ** Math.min(++spinFailures, 6); // no message, or preempted: back off
      spinning = false;
      const left = SPIN_MS + WAIT_MS - (now - start);
      if (left <= 0 || Atomics.wait(control, SLOT_DOORBELL, bell, left) === 'timed-out') return undefined;
    }
    bell = Atomics.load(control, SLOT_DOORBELL);
  }
}
