// The watchdog pauses the main thread only for its own capture, and resumes only the pauses it
// asked for: a debugger attached later that pauses the app keeps it paused as long as it wants.
import { afterEach, describe, expect, it } from 'vitest';
import { runFixture, type Fixture } from './fixture.js';

let fixture: Fixture | undefined;
afterEach(() => {
  if (fixture?.child.exitCode === null && fixture.child.signalCode === null) fixture.child.kill('SIGKILL');
  fixture = undefined;
});

describe('a pause the watchdog did not cause', () => {
  it('lasts as long as the debugger that made it holds it (2 s), not until the watchdog resumes it', async () => {
    fixture = runFixture('debugger-pause.mjs');
    const line = await fixture.waitFor<{ held: number; paused: boolean; resumedByAgent: boolean }>(
      (candidate) => candidate['type'] === 'held',
    );
    expect(line.paused).toBe(true);
    expect(line.resumedByAgent).toBe(true);
    expect(line.held).toBeGreaterThanOrEqual(1900);
    const exited = await fixture.exited;
    expect(exited, fixture.stderr()).toEqual({ code: 0, signal: null });
  });
});
