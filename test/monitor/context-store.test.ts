// The watchdog reads the withContext store while the main thread is blocked (or paused): it
// must never run the store's own code (toJSON, getters) or copy it whole, or the block it
// reports grows by whatever that code does, or never ends.
import { afterEach, describe, expect, it } from 'vitest';
import type { BlockEvent } from 'loopguard';
import { runFixture, type Fixture } from './fixture.js';

let fixture: Fixture | undefined;
afterEach(() => {
  if (fixture?.child.exitCode === null && fixture.child.signalCode === null) fixture.child.kill('SIGKILL');
  fixture = undefined;
});

interface BlockLine {
  measured: number;
  event: BlockEvent;
}

describe('a block inside a withContext store the watchdog cannot serialise cheaply', () => {
  it.each([
    ['never', 'a handle whose toJSON never returns'],
    ['slow', 'a handle whose toJSON takes 2 s'],
    ['huge', '300,000 loaded rows'],
    ['bigint', 'a BigInt cursor'],
  ])('%s (%s): keeps its own length and the context name', async (kind) => {
    fixture = runFixture('context-store.mjs', { args: [kind] });
    // Before the fix 'never' hung the app for good: wait a bounded time, not the test's timeout.
    const line = await Promise.race([
      fixture.waitFor<BlockLine>((candidate) => candidate['type'] === 'block' && candidate['ours'] === true),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no block reported in 15 s; stderr:\n${fixture?.stderr()}`)), 15_000)),
    ]);
    // The fixture timed the same work before the monitor ran (300-600 ms); the capture may add
    // tens of ms to it, never seconds.
    expect(line.measured).toBeGreaterThanOrEqual(300);
    expect(line.event.duration).toBeLessThan(line.measured * 1.3 + 200);
    expect(line.event.context).toMatchObject({ name: 'nightly-report', tenant: 't1' });
    if (kind === 'bigint') expect(line.event.context?.['cursor']).toBe(String(2n ** 70n));
    expect(await fixture.exited).toEqual({ code: 0, signal: null });
  });
});
