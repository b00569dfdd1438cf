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

// Linux /proc on x64 or arm64: the watchdog reads whether the main thread sleeps in its loop's
// poll (watchdog/thread/loop-idle.ts), and an idle loop then beats a threshold slower.
const watchable = hasProc && ['x64', 'arm64'].includes(process.arch);

describe('the watched idle beat', () => {
  let fixture: Fixture | undefined;
  afterEach(() => {
    if (fixture?.child.exitCode === null) fixture.child.kill();
    fixture = undefined;
  });

  it.skipIf(!watchable)(
    "beats at threshold + 0.9 threshold while the watchdog sees the loop idle, yet a block in execSync's own loop or in Atomics.wait is no idle poll",
    async () => {
      fixture = runFixture('idle-service/watched-beat.mjs');
      const { intervals, watched } = await fixture.waitFor<{ intervals: number[]; watched: number }>((line) => line.type === 'intervals');
      expect(watched).toBe(1);
      // 190 ms at the default threshold (90 before). A host that runs timers late puts the loop
      // on the ¾-threshold beat (75) for 10 s, and work on it on the fast beat: some readings only.
      expect(intervals).toContain(190);
      await fixture.waitFor((line) => line.type === 'done');
      const blocks = fixture.lines.filter((line) => line.type === 'block') as unknown as Array<{ duration: number; cause: string; stack: string[] }>;
      // execSync polls a loop of its own (an epoll descriptor opened after the monitor started):
      // taken for the main loop's, the watchdog would take no stack and time the block from then.
      const exec = blocks.find((block) => block.stack.includes('readRevision'));
      expect(exec, JSON.stringify(blocks)).toBeDefined();
      expect(exec?.duration).toBeGreaterThanOrEqual(400);
      const parked = blocks.find((block) => block.stack.includes('waitForSlot'));
      expect(parked, JSON.stringify(blocks)).toBeDefined();
      expect(parked?.cause).toBe('wait');
      expect(parked?.duration).toBeGreaterThanOrEqual(400);
      expect((await fixture.exited).code).toBe(0);
    },
  );

  it.skipIf(!watchable)('reaches the watched beat after a start busy for 2 s (every look of the watchdog after a new beat)', async () => {
    // The old watchdog looked for the loop's descriptor only at a look that found the beat
    // unmoved, which a loop busy from its start never gave it: 180, for the process's life.
    fixture = runFixture('idle-service/busy-start.mjs');
    const line = await fixture.waitFor<{ value: number; watched: number }>((candidate) => candidate['type'] === 'interval');
    expect(line.value).toBe(line.watched);
    expect((await fixture.exited).code).toBe(0);
  });

  it.skipIf(!watchable)('times a block as one stretch of the loop, not with the work before it in the same slow beat', async () => {
    fixture = runFixture('idle-service/after-idle.mjs');
    await fixture.waitFor((line) => line.type === 'done');
    const rounds = fixture.lines.filter((line) => line.type === 'round') as unknown as Array<{ ok: boolean; durations: number[] }>;
    // A round that did not begin on the watched beat proves nothing; a loaded host spoils one now and then.
    const ok = rounds.filter((round) => round.ok);
    expect(ok.length, JSON.stringify(rounds)).toBeGreaterThanOrEqual(2);
    // 150 ms of work, one turn of the loop, then 80 ms: counted from the beat, 230 ms (a block
    // of the 200 ms threshold, measured: 235–241 ms each round when the beat summed them).
    for (const round of ok) expect(round.durations, JSON.stringify(rounds)).toEqual([]);
    expect((await fixture.exited).code).toBe(0);
  }, 90_000);
});
