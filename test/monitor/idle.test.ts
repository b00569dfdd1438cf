// The heartbeat and the watchdog on an idle loop: they wake up rarely (a slow beat, a watchdog
// that sleeps until the last beat can be a threshold old), yet a block is timed whole and its
// stack is taken within the threshold of its start (DESIGN.md "Heartbeat and watchdog").
import { existsSync } from 'node:fs';
import { get } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { runFixture, type Fixture } from './fixture.js';

const hasProc = existsSync('/proc/self/task');

function request(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

interface IdleLine {
  type: 'idle';
  blocks: number;
  watchdogThreads: number;
  mainWakeupsPerS: number;
  watchdogWakeupsPerS: number;
}

interface BlockLine {
  type: 'block';
  duration: number;
  blamed: boolean;
  stackTakenMs: number | null;
}

describe('an idle service with the monitor at its defaults', () => {
  let server: Fixture | undefined;
  afterEach(() => {
    if (server?.child.exitCode === null) server.child.kill();
    server = undefined;
  });

  it.skipIf(!hasProc)(
    `reports no block for 3 s idle, its threads waking a few times a second${hasProc ? '' : ' (skipped: needs Linux /proc)'}, then takes a block's stack two awaits below the handler within the threshold`,
    async () => {
      server = runFixture('idle-service/server.mjs', { args: ['3000'] });
      const { port } = await server.waitFor<{ port: number }>((line) => line.type === 'listening');
      server.child.send('measure');
      const idle = await server.waitFor<IdleLine>((line) => line.type === 'idle');
      expect(idle.blocks).toBe(0);
      expect(idle.watchdogThreads).toBeGreaterThanOrEqual(1);
      // Measured here: ~17 a second on the main thread (a beat every 75 ms, the app's and the
      // monitor's one-second timers) and ~13 on the watchdog; before, 59–75 and 38–40 (a 20 ms
      // beat, a histogram timer of its own, a watchdog polling every 25 ms). Voluntary context
      // switches count sleeps, not the host's preemptions; but a host that preempts the main
      // thread for 20 ms inside a beat makes the loop look busy and puts it on the fast beat for
      // a second (a 20 ms beat, ~53 a second): hence the room.
      expect(idle.mainWakeupsPerS).toBeLessThan(45);
      expect(idle.watchdogWakeupsPerS).toBeLessThan(25);

      const body = request(port, '/orders/7');
      const block = await server.waitFor<BlockLine>((line) => line.type === 'block' && line.blamed === true);
      expect(JSON.parse(await body)).toMatchObject({ id: 7, currency: 'EUR' });
      expect(block.duration).toBeGreaterThanOrEqual(1400);
      // Taken inside the block (the stack names priceOrder and the reader ran while it spun),
      // within threshold (100) + 25 ms by design; the margin here is the loaded machine's.
      expect(block.stackTakenMs).not.toBeNull();
      expect(block.stackTakenMs).toBeLessThan(100 + 400);
      server.child.send('finish');
      expect((await server.exited).code).toBe(0);
    },
  );
});

describe('the slow heartbeat of an idle loop', () => {
  let fixture: Fixture | undefined;
  afterEach(() => {
    if (fixture?.child.exitCode === null) fixture.child.kill();
    fixture = undefined;
  });

  // In a process of its own: an idle loop is what is under test, and a test runner's own work
  // (its messages, its collections) in the same slow beat would count with the block.
  it('times a block that began between two slow beats whole, and reports none of half the threshold', async () => {
    fixture = runFixture('idle-service/slow-beat.mjs');
    await fixture.waitFor((line) => line.type === 'done');
    const rounds = fixture.lines.filter((line) => line.type === 'round') as unknown as Array<{ round: number; short: number[]; long: number[] }>;
    expect(rounds).toHaveLength(6);
    for (const { round, short, long } of rounds) {
      expect(short, `round ${round}: the 50 ms block`).toEqual([]);
      // The block's own lateness would leave out the part before the beat was due (up to 75 ms):
      // a 160 ms block then looked like 85–160 ms, and was lost below the threshold.
      expect(long, `round ${round}: the 160 ms block`).toHaveLength(1);
      // The fast beat (20 ms) times a block to within 20 ms of it; the slow one to within a few.
      expect(long[0], `round ${round}`).toBeGreaterThanOrEqual(135);
      expect(long[0], `round ${round}`).toBeLessThan(400);
    }
    expect((await fixture.exited).code).toBe(0);
  });
});
