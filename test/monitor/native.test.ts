import { afterEach, describe, expect, it } from 'vitest';
import type { BlockEvent } from 'loopguard';
import { runFixture, type Fixture } from './fixture.js';

let fixture: Fixture | undefined;
afterEach(() => {
  if (fixture?.child.exitCode === null) fixture.child.kill('SIGKILL');
});

describe('a block inside a native sync API', () => {
  it("is reported with cause 'native' and the API's name, blamed on the caller", async () => {
    fixture = runFixture('native.mjs');
    const { event } = await fixture.waitFor<{ event: BlockEvent }>(
      (line) => line['type'] === 'block' && (line['event'] as BlockEvent).duration >= 150,
    );
    expect(event.cause).toBe('native');
    expect(event.call).toBe('crypto.pbkdf2Sync');
    expect(event.duration).toBeGreaterThanOrEqual(150);
    // The pause lands once the call returns to JavaScript, still inside the caller.
    expect(event.stack.map((frame) => frame.function)).toContain('hashPassword');
    expect(await fixture.exited).toEqual({ code: 0, signal: null });
  });
});

describe('a block during a long garbage collection', () => {
  it("is reported with cause 'gc'", async () => {
    fixture = runFixture('gc.mjs', { execArgv: ['--expose-gc'] });
    const { event } = await fixture.waitFor<{ event: BlockEvent }>(
      (line) => line['type'] === 'block' && line['ours'] === true,
    );
    expect(event.cause).toBe('gc');
    expect(event.duration).toBeGreaterThanOrEqual(100);
    expect(event.call).toBeUndefined();
    expect(await fixture.exited).toEqual({ code: 0, signal: null });
  });
});

describe('several long full collections in a row', () => {
  it("are each reported with cause 'gc', the capture's own cost on the large heap left out", async () => {
    fixture = runFixture('gc-repeated.mjs', { execArgv: ['--expose-gc'], args: ['4'] });
    await fixture.waitFor((line) => line['type'] === 'done');
    const ours = fixture.lines.filter((line) => line['type'] === 'block' && line['ours'] === true) as Array<{
      gcMs: number;
      event: BlockEvent;
    }>;
    expect(ours).toHaveLength(4);
    // Every block whose collection alone outlasted the threshold (50 ms) is the collection's.
    const long = ours.filter((line) => line.gcMs > 50 && line.event.duration >= line.gcMs);
    expect(long.length).toBeGreaterThanOrEqual(3);
    expect(long.map((line) => line.event.cause)).toEqual(long.map(() => 'gc'));
    expect(await fixture.exited).toEqual({ code: 0, signal: null });
  });
});
