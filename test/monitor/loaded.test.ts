// A loop that is busy without being blocked: many small requests, each well under a
// millisecond, from another process. The heartbeat must not take the busy time between two
// slow beats for a block (DESIGN.md "Heartbeat and watchdog": the watched idle beat is 1.9
// threshold long, so half an interval of small tasks would exceed the threshold), and a real
// block under the same load is still caught.
import { afterEach, describe, expect, it } from 'vitest';
import { runFixture, type Fixture } from './fixture.js';

interface BlocksLine {
  type: 'blocks';
  events: Array<{ duration: number; cause: string; top: string | null }>;
}

const LOAD_MS = 7000;

describe('a service busy with small requests', () => {
  const fixtures: Fixture[] = [];
  afterEach(() => {
    for (const fixture of fixtures.splice(0)) if (fixture.child.exitCode === null) fixture.child.kill();
  });

  it('reports no block for a job done in 2 ms slices that yield to the loop, started on an idle loop', async () => {
    const job = runFixture('loaded-service/sliced-job.mjs', { args: ['6000'] });
    fixtures.push(job);
    const { events, slices } = await job.waitFor<BlocksLine & { slices: number }>((line) => line.type === 'blocks');
    expect(slices).toBeGreaterThan(500);
    // Before the fix: 2–3 false blocks of ~130 ms in these 6 s (the loop, busy two thirds of the
    // time in 2 ms pieces, was never busier than a 20 ms beat, so the heartbeat fell back to its
    // 190 ms watched idle beat, and two thirds of that is over the threshold). One is allowed
    // for a host that really stalls the process on a loaded CI machine.
    expect(events.length, JSON.stringify(events)).toBeLessThanOrEqual(1);
    expect((await job.exited).code).toBe(0);
  }, 30_000);

  it('reports no block for bursts of 2 ms slices that each start on an idle loop, and each real block inside one, once', async () => {
    const [quiet, blocking] = [runFixture('loaded-service/bursts.mjs', { args: ['10', '400'] }), runFixture('loaded-service/bursts.mjs', { args: ['6', '400', 'block'] })];
    fixtures.push(quiet, blocking);
    const bursts = await quiet.waitFor<{ type: 'bursts'; events: BlocksLine['events']; slices: number }>((line) => line.type === 'bursts');
    expect(bursts.slices).toBeGreaterThan(1000);
    // Before the turns were watched: 3–5 false blocks of 100–190 ms in these 10 bursts (the
    // saturated loop did a threshold's work in many short turns within one 190 ms idle beat).
    // One is allowed for a host that really stalls the process on a loaded CI machine.
    expect(bursts.events.length, JSON.stringify(bursts.events)).toBeLessThanOrEqual(1);
    const blocked = await blocking.waitFor<{ type: 'bursts'; events: BlocksLine['events'] }>((line) => line.type === 'bursts');
    const real = blocked.events.filter((event) => event.duration >= 250);
    // Each 300 ms block once, timed as itself (not with the burst's turns before it: < 400 ms).
    expect(real.length, JSON.stringify(blocked.events)).toBe(6);
    for (const event of real) {
      expect(event.duration, JSON.stringify(blocked.events)).toBeLessThan(400);
      // The first frame of the app's own (not a Node internal such as the `performance` getter
      // foldRows calls): foldRows, or the piece that called it when a loaded host ran the look late.
      expect(['foldRows', 'drainPiece'], JSON.stringify(blocked.events)).toContain(event.top);
    }
    expect(blocked.events.length - real.length, JSON.stringify(blocked.events)).toBeLessThanOrEqual(1);
    expect((await quiet.exited).code).toBe(0);
    expect((await blocking.exited).code).toBe(0);
  }, 60_000);

  it('reports no block during 4 s of steady HTTP load from another process, and still reports a 400 ms block under it', async () => {
    const server = runFixture('loaded-service/server.mjs');
    fixtures.push(server);
    const { port } = await server.waitFor<{ port: number }>((line) => line.type === 'listening');
    const load = runFixture('loaded-service/load.mjs', { args: [`http://127.0.0.1:${port}`, String(LOAD_MS)] });
    fixtures.push(load);
    // The load's first second (connections opening, the JIT warming, the loop going from idle to
    // busy) is left out: the steady part is what this is about.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    server.child.send('mark');
    await new Promise((resolve) => setTimeout(resolve, 4000));
    server.child.send('count');
    const steady = await server.waitFor<BlocksLine>((line) => line.type === 'blocks');
    // Before the fix: a false 160–190 ms block, cause unknown, every 2–5 s (a hello service
    // under autocannon, bench/telemetry.mjs's "blocks inside rounds"). The sliced job above is
    // the sharper check; this is the service as deployed. A host that stalls this process for
    // > 100 ms would be a real block: allow one rather than fail on it.
    expect(steady.events.length, JSON.stringify(steady.events)).toBeLessThanOrEqual(1);

    server.child.send('mark');
    server.child.send('block');
    server.child.send('count');
    const blocked = await server.waitFor<BlocksLine>((line) => line.type === 'blocks' && line !== steady);
    expect(blocked.events.some((event) => event.duration >= 300), JSON.stringify(blocked.events)).toBe(true);

    const done = await load.waitFor<{ requests: number; errors: number }>((line) => line.type === 'load');
    expect(done.requests).toBeGreaterThan(1000);
    server.child.send('finish');
    expect((await server.exited).code).toBe(0);
  }, 30_000);
});
