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

/** pollingIn's answers besides a descriptor (≥ 0: an epoll wait on it). */
const NOT_POLLING = -1;
const UNKNOWN = -2;

/**
 * Reads one line of /proc/<tid>/syscall from `bytes`, without allocating (a look makes it about
 * every other time on an idle loop, and garbage there would wake V8's collector in this thread):
 * the descriptor when it is an epoll wait on one of `fds`, NOT_POLLING for anything else (running,
 * another syscall, another loop's descriptor), UNKNOWN when the line is not in the expected format.
 */
export function pollingIn(bytes: Uint8Array, length: number, syscalls: readonly number[], fds: ReadonlySet<number>): number {
  let at = 0;
  // "running": on a CPU now.
  if (length >= 7 && bytes[0] === 0x72) return NOT_POLLING;
  let negative = false;
  if (bytes[at] === 0x2d) {
    negative = true;
    at += 1;
  }
  let nr = 0;
  const digitsFrom = at;
  for (; at < length && (bytes[at] ?? 0) >= 0x30 && (bytes[at] ?? 0) <= 0x39; at += 1) nr = nr * 10 + (bytes[at] ?? 0) - 0x30;
  if (at === digitsFrom || (at < length && bytes[at] !== 0x20 && bytes[at] !== 0x0a)) return UNKNOWN;
  // -1: blocked outside a syscall (a page fault, say): not the poll.
  if (negative || !syscalls.includes(nr)) return NOT_POLLING;
  // The first argument, in hex: " 0xe".
  if (bytes[at] !== 0x20 || bytes[at + 1] !== 0x30 || bytes[at + 2] !== 0x78) return UNKNOWN;
  at += 3;
  let fd = 0;
  const hexFrom = at;
  for (; at < length; at += 1) {
    const c = bytes[at] ?? 0;
    const digit = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
    if (digit < 0) break;
    fd = fd * 16 + digit;
  }
  if (at === hexFrom) return UNKNOWN;
  return fds.has(fd) ? fd : NOT_POLLING;
}

/** pollingIn for a string (tests). */
export function pollingOn(line: string, syscalls: readonly number[], fds: ReadonlySet<number>): { polling: boolean; fd?: number } | undefined {
  const bytes = Buffer.from(line.trimStart(), 'latin1');
  const seen = pollingIn(bytes, bytes.length, syscalls, fds);
  return seen === UNKNOWN ? undefined : seen === NOT_POLLING ? { polling: false } : { polling: true, fd: seen };
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
      const seen = pollingIn(this.#buffer, length, this.#syscalls, this.#fds);
      if (seen === UNKNOWN) throw new Error('unexpected /proc syscall format');
      if (seen >= 0 && !this.#found) {
        this.#found = true;
        this.#fds = new Set([seen]);
      }
      return seen >= 0;
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
