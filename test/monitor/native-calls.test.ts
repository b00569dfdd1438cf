// `nativeCalls` (default true) wraps Node's blocking built-ins so a block inside one is named;
// `nativeCalls: false` must leave every one of them exactly as it was.
import childProcess from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import * as fsNamed from 'node:fs';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { startMonitor, type Monitor } from 'loopguard';

let monitor: Monitor | undefined;
afterEach(async () => {
  await monitor?.stop();
  monitor = undefined;
});

const builtins = (): Function[] => [
  fs.readFileSync,
  fs.statSync,
  fsNamed.readFileSync,
  crypto.pbkdf2Sync,
  crypto.generateKeyPairSync,
  zlib.gzipSync,
  childProcess.execSync,
  childProcess.spawnSync,
];

describe('nativeCalls', () => {
  it('false touches no built-in: fs, crypto, zlib and child_process keep their own functions', async () => {
    const before = builtins();
    monitor = startMonitor({ nativeCalls: false, log: false });
    await (monitor as unknown as { ready: Promise<void> }).ready;
    expect(builtins()).toEqual(before);
    builtins().forEach((fn, index) => expect(fn).toBe(before[index]));
    await monitor.stop();
    builtins().forEach((fn, index) => expect(fn).toBe(before[index]));
  });

  it('by default wraps them while the monitor runs and puts the originals back on stop()', async () => {
    const before = builtins();
    monitor = startMonitor({ log: false });
    const during = builtins();
    during.forEach((fn, index) => expect(fn).not.toBe(before[index]));
    expect(during.map((fn) => fn.name)).toEqual(before.map((fn) => fn.name));
    await monitor.stop();
    builtins().forEach((fn, index) => expect(fn).toBe(before[index]));
  });
});
