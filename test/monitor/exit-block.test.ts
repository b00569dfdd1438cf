// Nothing is lost at exit: a block in the tick the process exits from (a script's last step,
// `busy(); process.exit(7)`) has no next heartbeat to measure it, yet it is reported, with the
// stack the watchdog took while it lasted, and counted, and the exit status is the app's.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { BlockEvent, BlockerSummary, LoopStats } from 'loopguard';
import { fixturePath, runFixture, type Fixture } from './fixture.js';

let fixture: Fixture | undefined;
afterEach(() => {
  if (fixture?.child.exitCode === null && fixture.child.signalCode === null) fixture.child.kill('SIGKILL');
  fixture = undefined;
});

interface ExitLine {
  exit: number;
  exitMs: number;
  stats: LoopStats;
  top: BlockerSummary[];
}

async function runJob(args: string[]): Promise<{ code: number | null; events: BlockEvent[]; atExit: ExitLine; stderr: string }> {
  fixture = runFixture('exit-job/job.mjs', { args });
  const { code } = await fixture.exited;
  const events = fixture.lines.filter((line) => 'event' in line).map((line) => line['event'] as BlockEvent);
  const atExit = fixture.lines.find((line) => 'exit' in line) as ExitLine | undefined;
  expect(atExit, fixture.stderr()).toBeDefined();
  return { code, events, atExit: atExit!, stderr: fixture.stderr() };
}

/** The job's own block, in buildYearlyTotals (a busy host may add others). */
function lastStep(events: BlockEvent[]): BlockEvent[] {
  return events.filter((event) => event.stack[0]?.function === 'buildYearlyTotals');
}

describe('a block in the last tick before exit (startMonitor in the script)', () => {
  it('is reported with its stack and counted when the script then ends by itself', async () => {
    const { code, events, atExit, stderr } = await runJob(['natural']);
    expect(code).toBe(0);
    const [event, ...more] = lastStep(events);
    expect(more, JSON.stringify(events)).toHaveLength(0);
    expect(event, stderr).toMatchObject({ kind: 'block', cause: 'js' });
    expect(event!.duration).toBeGreaterThanOrEqual(200);
    expect(event!.duration).toBeLessThan(2000);
    expect(event!.stack.map((frame) => frame.function)).toEqual(expect.arrayContaining(['buildYearlyTotals', 'summariseYear']));
    expect(event!.site).toMatch(/^buildYearlyTotals \(.*exit-job\/totals\.mjs:\d+\)$/);
    expect(atExit.stats.blocks.count).toBeGreaterThanOrEqual(1);
    expect(atExit.stats.blocks.longestMs).toBeGreaterThanOrEqual(200);
    expect(atExit.stats.delay.max).toBeGreaterThanOrEqual(200);
    expect(atExit.top.some((row) => row.site.startsWith('buildYearlyTotals ('))).toBe(true);
    // The log line too (log: 'json' on stderr).
    expect(stderr).toMatch(/"msg":"event loop blocked for \d+ ms[^"]*".*"buildYearlyTotals"/);
  });

  it('is reported and counted when process.exit(7) follows it in the same tick, and the status stays 7', async () => {
    const { code, events, atExit } = await runJob(['exit']);
    expect(code).toBe(7);
    expect(atExit.exit).toBe(7);
    const [event] = lastStep(events);
    expect(event, JSON.stringify(events)).toMatchObject({ kind: 'block', cause: 'js' });
    expect(event!.duration).toBeGreaterThanOrEqual(200);
    expect(atExit.stats.blocks.count).toBeGreaterThanOrEqual(1);
    expect(atExit.top.some((row) => row.site.startsWith('buildYearlyTotals ('))).toBe(true);
  });

  it('is reported when process.exit(3) runs from the next immediate, before the block was emitted', async () => {
    const { code, events, atExit } = await runJob(['next']);
    expect(code).toBe(3);
    const found = lastStep(events);
    expect(found, JSON.stringify(events)).toHaveLength(1);
    expect(found[0]!.duration).toBeGreaterThanOrEqual(200);
    expect(atExit.stats.blocks.count).toBeGreaterThanOrEqual(1);
  });

  it('is a hang with the stack when it outlasted hangTimeout before the process exited', async () => {
    const { code, events } = await runJob(['exit', '1500', '400']);
    expect(code).toBe(7);
    const found = lastStep(events);
    expect(found, JSON.stringify(events)).toHaveLength(1);
    expect(found[0]).toMatchObject({ kind: 'hang' });
    expect(found[0]!.duration).toBeGreaterThanOrEqual(1000);
  });

  it('holds the exit up for no longer than the bounded wait for the watchdog', async () => {
    const { atExit } = await runJob(['exit']);
    // The wait is at most 200 ms; the rest is building and logging one event.
    expect(atExit.exitMs).toBeLessThan(500);
  });
});

describe('a TypeScript script that blocks once and ends', () => {
  const source = readFileSync(fixturePath('exit-typescript.ts'), 'utf8').split('\n');
  const blockingLine = source.findIndex((text) => text.includes('// blocking line')) + 1;

  async function run(execArgv: string[]): Promise<string> {
    fixture = runFixture('exit-typescript.ts', { execArgv });
    const { code } = await fixture.exited;
    expect(code, fixture.stderr()).toBe(0);
    return fixture.stderr();
  }

  it('prints its event when run through tsx', async () => {
    const stderr = await run(['--import', 'tsx']);
    expect(stderr).toMatch(/loopguard: event loop blocked for \d+ ms/);
    expect(stderr).toContain('at buildYearlyTotals (test/fixtures/monitor/exit-job/totals.mjs:');
    expect(stderr).toContain(`at closeTheBooks (test/fixtures/monitor/exit-typescript.ts:${blockingLine}:`);
  });

  const stripsTypes = (process.features as { typescript?: string | false }).typescript;
  it.skipIf(stripsTypes === undefined || stripsTypes === false)(
    `prints its event when run with Node's own type stripping${stripsTypes ? '' : ' (skipped: needs Node ≥ 22.18)'}`,
    async () => {
      const stderr = await run(['--disable-warning=ExperimentalWarning']);
      expect(stderr).toMatch(/loopguard: event loop blocked for \d+ ms/);
      expect(stderr).toContain(`at closeTheBooks (test/fixtures/monitor/exit-typescript.ts:${blockingLine}:`);
    },
  );
});
