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
