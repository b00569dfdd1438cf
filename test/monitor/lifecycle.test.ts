import fs from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startMonitor, type BlockEvent, type Monitor } from 'loopguard';
import { spinFor } from '../fixtures/monitor/busy.mjs';
import { runFixture } from './fixture.js';

let monitor: Monitor | undefined;
afterEach(async () => {
  await monitor?.stop();
  monitor = undefined;
});

async function ready(target: Monitor): Promise<Monitor> {
  await (target as unknown as { ready: Promise<void> }).ready;
  return target;
}

function nextBlock(target: Monitor, block: () => void): Promise<BlockEvent> {
  const event = new Promise<BlockEvent>((resolve) => target.once('block', resolve));
  block();
  return event;
}

function workerCount(): number {
  return (process.report.getReport() as unknown as { workers: unknown[] }).workers.length;
}

describe('the monitor life cycle', () => {
  it('leaves nothing behind after stop(): no watchdog thread, exit listener, wrapper or singleton', async () => {
    const workers = workerCount();
    const exitListeners = process.listenerCount('exit');
    const readFileSync = fs.readFileSync;
    monitor = await ready(startMonitor({ threshold: 50, log: false, syncCalls: 'warn' }));
    expect(workerCount()).toBe(workers + 1);
    expect(fs.readFileSync).not.toBe(readFileSync);
    await monitor.stop();
    expect(workerCount()).toBe(workers);
    expect(process.listenerCount('exit')).toBe(exitListeners);
    expect(fs.readFileSync).toBe(readFileSync);
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('loopguard.v1.monitor')]).toBeUndefined();
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('loopguard.v1.heartbeat')]).toBeUndefined();
  });

  it('leaves no handle, listener, worker or wrapper behind after 30 start/stop cycles', async () => {
    const workers = workerCount();
    const resources = process.getActiveResourcesInfo().filter((name) => name !== 'TTYWrap');
    const listeners = ['exit', 'SIGINT', 'SIGTERM', 'uncaughtException'].map((event) => process.listenerCount(event));
    const readFileSync = fs.readFileSync;
    for (let i = 0; i < 30; i++) {
      const running = await ready(startMonitor({ threshold: 50, log: false, syncCalls: i % 2 === 0 ? 'warn' : false }));
      running.on('block', () => undefined);
      await running.stop();
    }
    expect(workerCount()).toBe(workers);
    expect(['exit', 'SIGINT', 'SIGTERM', 'uncaughtException'].map((event) => process.listenerCount(event))).toEqual(listeners);
    expect(fs.readFileSync).toBe(readFileSync);
    // Timers and the watchdog's port are gone too (a terminated worker's handle may linger a tick).
    await new Promise((resolve) => setImmediate(resolve));
    // Nothing more of any kind than before (something of the test runner's may have gone meanwhile).
    const count = (names: string[]): Record<string, number> =>
      names.reduce<Record<string, number>>((counts, name) => ({ ...counts, [name]: (counts[name] ?? 0) + 1 }), {});
    const before = count(resources);
    for (const [name, n] of Object.entries(count(process.getActiveResourcesInfo().filter((other) => other !== 'TTYWrap')))) {
      expect({ name, n }).toEqual({ name, n: Math.min(n, before[name] ?? 0) });
    }
  });

  it('gives the next monitor fresh delay figures, and keeps a stopped one its own', async () => {
    const first = await ready(startMonitor({ threshold: 50, log: false }));
    await nextBlock(first, () => spinFor(300));
    await first.stop();
    const kept = first.stats().delay;
    expect(kept.max).toBeGreaterThanOrEqual(250);
    monitor = await ready(startMonitor({ threshold: 50, log: false }));
    // The histograms are reused (Node keeps the memory of every one made): reset, not carried over.
    expect(monitor.stats().delay.max).toBeLessThan(250);
    expect(first.stats().delay).toEqual(kept);
  });

  it('stops through Symbol.asyncDispose, as `await using` does', async () => {
    const workers = workerCount();
    const started = await ready(startMonitor({ threshold: 50, log: false }));
    expect(typeof started[Symbol.asyncDispose]).toBe('function');
    await started[Symbol.asyncDispose]();
    expect(workerCount()).toBe(workers);
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('loopguard.monitor')]).toBeUndefined();
  });

  it('keeps a per-second timeline whose max shows a block', async () => {
    monitor = await ready(startMonitor({ threshold: 50, log: false }));
    await nextBlock(monitor, () => spinFor(300));
    const running = monitor;
    // One point per second: wait for the point that covers the block.
    const point = await new Promise<{ max: number; utilization: number }>((resolve) => {
      const poll = setInterval(() => {
        const found = running.timeline().find((entry) => entry.max >= 250);
        if (found !== undefined) {
          clearInterval(poll);
          resolve(found);
        }
      }, 50);
    });
    expect(point.max).toBeGreaterThanOrEqual(250);
    expect(point.utilization).toBeGreaterThan(0.2);
  });

  it('logs a block through pino as one warn record', async () => {
    const records: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        records.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        callback();
      },
    });
    monitor = await ready(startMonitor({ threshold: 50, log: pino(destination) }));
    await nextBlock(monitor, () => spinFor(300));
    await new Promise((resolve) => setImmediate(resolve));
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ level: 40, kind: 'block', cause: 'js', threshold: 50 });
    expect(records[0]?.['msg']).toMatch(/^event loop blocked for \d+ ms \(threshold 50 ms\)$/);
    expect(records[0]?.['site']).toMatch(/^spinFor \(/);
  });

  it('prints the pretty log with the stack and the hint to move the function off the loop', async () => {
    const fixture = runFixture('basic-block.mjs');
    expect(await fixture.exited).toEqual({ code: 0, signal: null });
    // From our block's headline on (a loaded machine may have logged a stall of its own before).
    const all = fixture.stderr().trimEnd().split('\n');
    const lines = all.slice(all.findIndex((line) => line.endsWith(' in job')));
    expect(lines[0]).toMatch(/^loopguard: event loop blocked for \d+ ms \(threshold 50 ms\) in job$/);
    expect(lines[1]).toBe('    at spinFor (test/fixtures/monitor/busy.mjs:5:3)');
    expect(lines[lines.findIndex((line) => line.startsWith('  hint:'))]).toBe(
      '  hint: move it off the loop with threaded(spinFor) or runInThreadpool()',
    );
  });
});
