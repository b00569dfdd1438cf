/**
 * Whether the main thread sits in its own event loop's poll right now: asleep in epoll_wait on
 * the loop's epoll descriptor, as /proc/self/task/<pid>/syscall says (the syscall a sleeping
 * thread is in, and its arguments; "running" for a thread on a CPU). An idle loop cannot be
 * blocked, so the watchdog need not wait for a beat to know it: the main thread may beat more
 * slowly (monitor/heartbeat.ts idleInterval).
 *
 * What is not idle, and why it is told apart: a thread parked in Atomics.wait or a sync lock is
 * in futex; a sync fs call in read/write/openat or the like; a GC or a JavaScript loop is
 * "running"; spawnSync/execSync run a loop of their own, whose epoll descriptor is created
 * after the monitor started and so is not among `loopFds` (the descriptors open then, read on
 * the main thread in startMonitor, where it can be in no nested loop). The first descriptor the
 * main thread is seen polling among them is its loop's, and the only one accepted from then on.
 * A stopped process (SIGSTOP) stops this thread too: what a look finds after it is judged as
 * before (judge.ts gaps).
 *
 * Where it cannot be read (no /proc, a kernel without the file, an architecture whose syscall
 * numbers are not listed here), check() says undefined and the heartbeat keeps its beat.
 * One pread of ~40–120 µs (measured: Linux 6.18, a 2-core VM), made only when the beat is a
 * threshold old, which on a watched idle loop is about every other look.
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** epoll_wait, epoll_pwait and epoll_pwait2 by architecture (Linux's syscall tables). */
const EPOLL_SYSCALLS: Readonly<Record<string, readonly number[]>> = {
  x64: [232, 281, 441],
  arm64: [22, 441],
};

/**
 * Reads one line of /proc/<tid>/syscall: true when it is an epoll wait on one of `fds`, false
 * for anything else (running, another syscall, another loop's descriptor), undefined when the
 * line is not in the expected format.
 */
export function pollingOn(line: string, syscalls: readonly number[], fds: ReadonlySet<number>): { polling: boolean; fd?: number } | undefined {
  const text = line.trim();
  if (text === 'running') return { polling: false };
  const [nr, arg0] = text.split(' ', 2);
  if (nr === undefined || !/^-?\d+$/.test(nr)) return undefined;
  const number = Number(nr);
  // -1: blocked outside a syscall (a page fault, say): not the poll.
  if (number === -1 || !syscalls.includes(number) || arg0 === undefined) return { polling: false };
  const fd = Number.parseInt(arg0, 16);
  if (!Number.isInteger(fd)) return undefined;
  return fds.has(fd) ? { polling: true, fd } : { polling: false };
}

export class MainLoopIdle {
  readonly #syscalls: readonly number[] | undefined;
  /** The candidates, then (once seen polled) the main loop's descriptor alone. */
  #fds: Set<number>;
  #fd: number | undefined;
  #failed = false;
  #found = false;
  readonly #buffer = Buffer.alloc(256);

  constructor(loopFds: readonly number[], arch: string = process.arch) {
    this.#syscalls = EPOLL_SYSCALLS[arch];
    this.#fds = new Set(loopFds);
    if (this.#syscalls === undefined || this.#fds.size === 0) this.#failed = true;
  }

  /** Whether the main loop's descriptor has been seen polled (check() is then worth making). */
  get found(): boolean {
    return this.#found && !this.#failed;
  }

  /** Whether check() can still answer (false for good once /proc failed it). */
  get available(): boolean {
    return !this.#failed;
  }

  /** True: the main thread is asleep in its loop's poll now. undefined: cannot tell, for good. */
  check(): boolean | undefined {
    if (this.#failed || this.#syscalls === undefined) return undefined;
    try {
      this.#fd ??= openSync(`/proc/self/task/${process.pid}/syscall`, 'r');
      const length = readSync(this.#fd, this.#buffer, 0, this.#buffer.length, 0);
      const seen = pollingOn(this.#buffer.toString('latin1', 0, length), this.#syscalls, this.#fds);
      if (seen === undefined) throw new Error('unexpected /proc syscall format');
      if (seen.polling && !this.#found && seen.fd !== undefined) {
        this.#found = true;
        this.#fds = new Set([seen.fd]);
      }
      return seen.polling;
    } catch {
      this.#failed = true;
      this.close();
      return undefined;
    }
  }

  close(): void {
    if (this.#fd === undefined) return;
    try {
      closeSync(this.#fd);
    } catch {
      // already closed
    }
    this.#fd = undefined;
  }
}
