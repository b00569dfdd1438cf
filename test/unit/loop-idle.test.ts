/**
 * How the watchdog tells the main thread's idle poll from a block (src/watchdog/thread/loop-idle.ts):
 * one line of /proc/<tid>/syscall, as Linux writes it for a sleeping thread ("nr arg0 … sp pc")
 * or a running one ("running"). The lines below are as read on Linux 6.18 (x64) from a Node 20
 * main thread: idle in its loop, parked in Atomics.wait, inside execSync's own loop.
 */
import { describe, expect, it } from 'vitest';
import { MainLoopIdle, pollingOn } from '../../src/watchdog/thread/loop-idle.js';

const X64 = [232, 281, 441];
const loopFds = new Set([3, 9, 14]);

describe('pollingOn', () => {
  it("is polling for epoll_pwait on the main loop's descriptor", () => {
    expect(pollingOn('281 0xe 0x7ffe9ea96160 0x400 0x190 0x0 0x8 0x7ffe9ea96100 0x7f12a3c4e0de\n', X64, loopFds)).toEqual({ polling: true, fd: 14 });
    expect(pollingOn('232 0x3 0x7ffe9ea96160 0x400 0x190 0x0 0x0 0x7ffe9ea96100 0x7f12a3c4e0de', X64, loopFds)).toEqual({ polling: true, fd: 3 });
  });

  it("is not polling inside spawnSync's nested loop (a descriptor opened after the monitor started)", () => {
    expect(pollingOn('281 0x17 0x7ffe9ea90b30 0x400 0xffffffff 0x0 0x8 0x7ffe9ea90ad0 0x7f12a3c4e0de', X64, loopFds)).toEqual({ polling: false });
  });

  it('is not polling for a thread parked in futex (Atomics.wait), running, or blocked outside a syscall', () => {
    // futex's first argument is an address, which can never be taken for a descriptor here.
    expect(pollingOn('202 0x454c07b0 0x89 0x0 0x0 0x0 0x0 0x7ffe9ea96100 0x7f12a3c4e0de', X64, loopFds)).toEqual({ polling: false });
    // read(14, …) is no poll, whatever the descriptor.
    expect(pollingOn('0 0xe 0x7ffe9ea96160 0x400 0x0 0x0 0x0 0x7ffe9ea96100 0x7f12a3c4e0de', X64, loopFds)).toEqual({ polling: false });
    expect(pollingOn('running\n', X64, loopFds)).toEqual({ polling: false });
    expect(pollingOn('-1 0x7ffe9ea96100 0x7f12a3c4e0de', X64, loopFds)).toEqual({ polling: false });
  });

  it('says it cannot tell for a line of another format', () => {
    expect(pollingOn('', X64, loopFds)).toBeUndefined();
    expect(pollingOn('epoll_wait(14)', X64, loopFds)).toBeUndefined();
  });
});

describe('MainLoopIdle', () => {
  it('cannot tell on an architecture whose epoll syscall numbers it does not know, or without descriptors', () => {
    expect(new MainLoopIdle([14], 'ppc64').check()).toBeUndefined();
    expect(new MainLoopIdle([], 'x64').available).toBe(false);
  });

});
