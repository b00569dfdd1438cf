// What a block's cause is, when its stack was taken, and which stacks a long block reports.
// Each scenario runs test/fixtures/monitor/causes/app.mjs (a job service: handler → service →
// await → a helper in another module) in its own process.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BlockEvent } from 'loopguard';
import { cleanEnv, cliPath, killLeftovers, run } from '../zerocode/helpers.js';
import { fixturePath, runFixture, type Fixture } from './fixture.js';

const onLinux = process.platform === 'linux';

let fixture: Fixture | undefined;
afterEach(() => {
  if (fixture?.child.exitCode === null && fixture.child.signalCode === null) {
    fixture.child.kill('SIGCONT');
    fixture.child.kill('SIGKILL');
  }
  fixture = undefined;
});

async function start(scenario: string, hangTimeout = 0): Promise<Fixture> {
  fixture = runFixture('causes/app.mjs', { args: [scenario, String(hangTimeout)] });
  await fixture.waitFor((line) => line['type'] === 'ready');
  return fixture;
}

/** Runs the scenario and resolves with the first block that names `fn` or lasts at least `ms`. */
async function blockOf(running: Fixture, ms: number): Promise<BlockEvent> {
  running.child.send({ run: true });
  const { event } = await running.waitFor<{ event: BlockEvent }>(
    (line) => line['type'] === 'block' && (line['event'] as BlockEvent).duration >= ms,
  );
  return event;
}

const names = (stack: BlockEvent['stack']): string[] => stack.map((frame) => frame.function);

describe('the cause of a block', () => {
  it('is js for a JavaScript loop, with its stack', async () => {
    const event = await blockOf(await start('spin'), 300);
    expect(event.cause).toBe('js');
    expect(names(event.stack)).toContain('scoreAll');
    expect(event.stackLate).toBeUndefined();
  });

  it.skipIf(!onLinux)('is wait for a main thread parked in Atomics.wait, naming where it waits', async () => {
    const event = await blockOf(await start('atomics'), 300);
    expect(event.cause).toBe('wait');
    expect(names(event.stack)).toContain('acquireSlot');
  });

  it.skipIf(!onLinux)('is wait for execSync of a command that sleeps, with the call', async () => {
    const event = await blockOf(await start('exec'), 300);
    expect(event.cause).toBe('wait');
    expect(event.call).toBe('child_process.execSync');
  });

  it.skipIf(!onLinux)('is wait for a sync read from a slow device (a FIFO nobody writes yet), with the call', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'loopguard-causes-'));
    try {
      const fifo = join(dir, 'settings.json');
      execFileSync('mkfifo', [fifo]);
      const running = await start('slow-read');
      running.child.send({ run: true, path: fifo });
      // Opening for writing completes once the app's readFileSync has opened it to read.
      const writer = await open(fifo, 'w');
      await new Promise((resolve) => setTimeout(resolve, 400));
      await writer.writeFile('{"theme":"dark"}');
      await writer.close();
      const { event } = await running.waitFor<{ event: BlockEvent }>(
        (line) => line['type'] === 'block' && (line['event'] as BlockEvent).duration >= 300,
      );
      expect(event.cause).toBe('wait');
      expect(event.call).toBe('fs.readFileSync');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  async function stopped(scenario: string, ms: number, idleFirst = 0): Promise<BlockEvent> {
    const running = await start(scenario);
    if (idleFirst > 0) await new Promise((resolve) => setTimeout(resolve, idleFirst));
    running.child.kill('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, ms));
    running.child.kill('SIGCONT');
    const { event } = await running.waitFor<{ event: BlockEvent }>(
      (line) => line['type'] === 'block' && (line['event'] as BlockEvent).duration >= ms * 0.6,
    );
    return event;
  }

  // 'host', never 'unknown': after the slow idle beat a clean-clone CI run on Node 20 read
  // 'unknown' once. Two pieces of evidence now say it, each enough: the watchdog's own gap
  // (whose bar had grown with its idle sleep, watchdog/thread/judge.ts) and the main thread's
  // loop, which sat in its poll while its beat was due (monitor/cause.ts pollMs).
  it.skipIf(process.platform === 'win32')('is host for a process stopped for 600 ms, with no frame blamed', async () => {
    const event = await stopped('idle', 600);
    expect(event.cause).toBe('host');
    expect(event.stack).toEqual([]);
    expect(event.site).toBe('<unknown>');
  });

  it.skipIf(process.platform === 'win32')('is host for a stopped process with no watchdog thread (stacks: false), from the loop alone', async () => {
    // Not at the moment it printed 'ready': on a loaded host the process is often still off the
    // CPU after that write, runnable, and a stop then is busy time to the loop, which only the
    // watchdog's gap can tell from the app's (measured at load 14: 3 of 5 'unknown' stopped at
    // once, 5 of 5 'host' 150 ms later). This case is the loop's own evidence: an idle loop.
    const event = await stopped('idle-unwatched', 600, 150);
    expect(event.cause).toBe('host');
    expect(event.site).toBe('<unknown>');
  });
});

describe('a stack taken after the blocking work ended', () => {
  it('is flagged stackLate for a large JSON.parse, whose stack names what ran next', async () => {
    const event = await blockOf(await start('json'), 150);
    expect(event.stackLate).toBe(true);
    // Whatever the stack shows, it is never passed off as the parse itself.
    expect(event.cause).not.toBe('wait');
  });
});

describe('a long block that moves from one function to another', () => {
  it('ends with an event naming where it is now, and both functions in stacks', async () => {
    const event = await blockOf(await start('moving'), 3_000);
    expect(names(event.stack)).toContain('rebuildIndex');
    expect(event.site).toMatch(/^rebuildIndex /);
    const seen = (event.stacks ?? []).map((stack) => names(stack));
    expect(seen.some((stack) => stack.includes('loadCatalog'))).toBe(true);
    expect(seen.some((stack) => stack.includes('rebuildIndex'))).toBe(true);
    // Oldest first, each with when it was first seen.
    expect(seen.findIndex((stack) => stack.includes('loadCatalog'))).toBeLessThan(
      seen.findIndex((stack) => stack.includes('rebuildIndex')),
    );
    expect(event.stacksSeenAt).toHaveLength(event.stacks?.length ?? -1);
    expect(event.cause).toBe('js');
  });

  it('has its later hang reports name where it is now', async () => {
    const running = await start('moving', 700);
    running.child.send({ run: true });
    // The watchdog writes hang reports to stderr itself, every hangTimeout.
    const hangs = (): Array<Record<string, unknown>> =>
      running
        .stderr()
        .split('\n')
        .filter((line) => line.includes('"event loop hang"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    await running.waitFor((line) => line['type'] === 'done');
    const last = hangs().at(-1);
    expect(hangs().length).toBeGreaterThanOrEqual(2);
    expect(last?.['site']).toMatch(/^rebuildIndex /);
    const stacks = (last?.['stacks'] ?? []) as BlockEvent['stack'][];
    expect(stacks.some((stack) => names(stack).includes('loadCatalog'))).toBe(true);
  });
});

describe('a long block under the CLI, when the app is killed before it ends', () => {
  afterEach(killLeftovers);

  it('is summarised with where it was last', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'loopguard-causes-'));
    const report = join(dir, 'report.json');
    try {
      const app = fixturePath('causes/app.mjs');
      const cli = run(process.execPath, [cliPath, '--threshold', '50', '--report', report, '--', process.execPath, app, 'moving'], cleanEnv());
      const { pid } = await cli.nextJson<{ pid: number }>();
      // The refresh runs loadCatalog for 2 s, then rebuildIndex for 2 s: kill it in the second.
      await new Promise((resolve) => setTimeout(resolve, 3_300));
      process.kill(pid, 'SIGKILL');
      await cli.exited;
      const data = JSON.parse(readFileSync(report, 'utf8')) as { blocks: Array<{ site: string; duration: number }> };
      const long = data.blocks.find((block) => block.duration >= 2_500);
      expect(long?.site, JSON.stringify(data.blocks)).toMatch(/^rebuildIndex /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
