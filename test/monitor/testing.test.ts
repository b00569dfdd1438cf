import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockedError, startMonitor, type Monitor } from 'loopguard';
import { expectNoBlock } from 'loopguard/testing';
import { spinFor } from '../fixtures/monitor/busy.mjs';
import { fixturePath } from './fixture.js';

const monitorSymbol = Symbol.for('loopguard.v1.monitor');
const running = (): Monitor | undefined => (globalThis as Record<symbol, Monitor | undefined>)[monitorSymbol];

afterEach(async () => {
  await running()?.stop();
});

describe('expectNoBlock', () => {
  it('rejects with BlockedError naming the blocking function for a 250 ms block', async () => {
    const error = await expectNoBlock(() => spinFor(250), { threshold: 50 }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(BlockedError);
    const blocked = error as BlockedError;
    expect(blocked.code).toBe('ERR_LOOPGUARD_BLOCKED');
    expect(blocked.message).toMatch(/blocked for \d+ ms in spinFor \(/);
    expect(blocked.event.duration).toBeGreaterThanOrEqual(200);
    expect(blocked.event.stack[0]?.function).toBe('spinFor');
  });

  it('resolves for an async function that only waits', async () => {
    await expect(
      expectNoBlock(async () => {
        for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 20));
        // 100, not 50: a loaded test machine can stall for 50 ms on its own.
      }, { threshold: 100 }),
    ).resolves.toBeUndefined();
  });

  it('rejects for a block after an await inside an async function', async () => {
    await expect(
      expectNoBlock(async () => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        spinFor(250);
      }),
    ).rejects.toThrow(BlockedError);
  });

  it('stops the monitor it started and leaves a running one running', async () => {
    await expectNoBlock(() => undefined);
    expect(running()).toBeUndefined();
    const monitor = startMonitor({ threshold: 50, log: false });
    await expectNoBlock(() => undefined);
    expect(running()).toBe(monitor);
  });

  it('does not count a block that ended before fn started', async () => {
    const monitor = startMonitor({ threshold: 50, log: false });
    await (monitor as unknown as { ready: Promise<void> }).ready;
    spinFor(250);
    await expect(
      expectNoBlock(() => new Promise((resolve) => setTimeout(resolve, 30)), { threshold: 100 }),
    ).resolves.toBeUndefined();
  });

  it('still fails a block under the threshold of a running monitor with a higher one', async () => {
    startMonitor({ threshold: 1000, log: false });
    const error = await expectNoBlock(() => spinFor(250), { threshold: 50 }).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(BlockedError);
    expect((error as BlockedError).event.duration).toBeGreaterThanOrEqual(200);
  });

  it('works under node:test', async () => {
    const child = spawn(process.execPath, ['--test', '--test-reporter=tap', fixturePath('node-test.mjs')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(output).toMatch(/# pass 2/);
    expect(output).toMatch(/# fail 0/);
    expect(code).toBe(0);
  });
});
