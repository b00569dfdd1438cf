import { afterEach, describe, expect, it } from 'vitest';
import type { BlockEvent } from 'loopguard';
import { runFixture, type Fixture } from './fixture.js';

let fixture: Fixture | undefined;
afterEach(() => {
  if (fixture?.child.exitCode === null) fixture.child.kill('SIGKILL');
});

describe('a block whose stack the watchdog could only take after it ended', () => {
  // On Node 26, V8 services no interrupt during a call of a function running Maglev code while
  // its Turbofan tier-up is pending, so the watchdog's requests run once the block is over, in
  // Node's own loop code, before the heartbeat moves. Elsewhere the stack is caught as usual.
  it("is reported without a stack rather than blamed on Node's loop code", async () => {
    const rounds = 6;
    fixture = runFixture('tier-up.mjs', { args: [String(rounds)], execArgv: ['--allow-natives-syntax'] });
    for (let round = 0; round < rounds; round++) {
      const { event } = await fixture.waitFor<{ event: BlockEvent }>(
        (line) => line['type'] === 'block' && line['round'] === round,
      );
      expect(event.duration).toBeGreaterThanOrEqual(250);
      if (event.stack.length === 0) {
        expect(event.cause).toBe('unknown');
        expect(event.context).toBeUndefined();
      } else {
        // Whenever there is a stack, it is the blocking function's.
        expect(event.stack[0]).toMatchObject({ function: expect.stringMatching(/spinFor$/), line: 5 });
        expect(event.cause).toBe('js');
      }
    }
    expect(await fixture.exited).toEqual({ code: 0, signal: null });
  });
});
