/**
 * A process that exits soon after a captured block: the watchdog must have dropped its
 * inspector session on the main thread by then (issue 8), or Node prints "Waiting for the
 * debugger to disconnect..." at exit. It kept the session for seconds after every capture: the
 * release waited for the heartbeat to move, but compared it with the beat it had just stored.
 */
import { describe, expect, it } from 'vitest';
import { runFixture } from './fixture.js';

describe('a script that exits soon after a captured block', () => {
  it('has released the inspector session and prints nothing about the debugger', async () => {
    const fixture = runFixture('exit-after-capture.mjs', { args: ['400'] });
    const block = await fixture.waitFor<{ duration: number }>((line) => line['type'] === 'block');
    const exiting = await fixture.waitFor<{ session: number }>((line) => line['type'] === 'exiting');
    expect(await fixture.exited).toEqual({ code: 0, signal: null });
    expect(block.duration).toBeGreaterThan(200);
    expect(exiting.session).toBe(0);
    expect(fixture.stderr()).not.toMatch(/debugger/i);
  });
});
