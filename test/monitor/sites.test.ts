// Issue 8: a block is named after the app's own function (with the library that was running),
// and module loading at start-up is summarised apart instead of being a top blocker.
import { describe, expect, it } from 'vitest';
import type { BlockEvent, BlockerSummary, LoopStats } from 'loopguard';
import { Aggregates } from '../../src/monitor/aggregates.js';
import { collectReport } from '../../src/report/collect.js';
import { formatSummary } from '../../src/report/summary.js';
import { runFixture } from './fixture.js';

interface Done {
  type: 'done';
  stats: LoopStats;
  top: BlockerSummary[];
}

async function run(name: string): Promise<{ events: BlockEvent[]; done: Done; stderr: string }> {
  const fixture = runFixture(name);
  const done = await fixture.waitFor<Done>((line) => line.type === 'done');
  await fixture.exited;
  const events = fixture.lines.filter((line) => line.type === 'block').map((line) => line.event as BlockEvent);
  return { events, done, stderr: fixture.stderr() };
}

function reportOf(done: Done, events: BlockEvent[] = []): ReturnType<typeof collectReport> {
  return collectReport(
    {
      threshold: 50,
      stacksAvailable: true,
      stats: () => done.stats,
      topBlockers: () => done.top,
      timeline: () => [],
    },
    { events, dropped: 0 },
  );
}

function summaryOf(done: Done): string {
  return formatSummary(reportOf(done));
}

describe('sites are the app’s code', () => {
  it('names the app’s function as the site and the package in node_modules as the library', async () => {
    const { events, done, stderr } = await run('../attribution/sites.mjs');
    expect(events).toHaveLength(2);
    for (const event of events) {
      // The innermost frames may be Node's own (`get performance`); the library's is next.
      const seen = JSON.stringify({ cause: event.cause, stackLate: event.stackLate, duration: event.duration, stack: event.stack.map((frame) => frame.function) });
      expect(event.stack.find((frame) => !frame.file.startsWith('node:'))?.function, seen).toBe('digestSync');
      expect(event.site).toMatch(/^verifyChecksum \(.*app[/\\]lib[/\\]checksum\.mjs:\d+\)$/);
      expect(event.library).toBe('slow-crypt');
      expect(event.phase).toBeUndefined();
    }
    // One cause, one row: both blocks at the app's function.
    expect(done.top).toHaveLength(1);
    const [row] = done.top;
    expect(row?.count).toBe(2);
    expect(row?.library).toBe('slow-crypt');
    expect(row?.label).toMatch(/^slow-crypt\.digestSync via verifyChecksum \(.*checksum\.mjs:\d+\)$/);
    expect(stderr).toMatch(/blocked for \d+ ms at slow-crypt\.digestSync via verifyChecksum \(.*checksum\.mjs:\d+\)/);
    expect(stderr).toContain('threaded(verifyChecksum)');
    const summary = summaryOf(done);
    expect(summary).toMatch(/slow-crypt\.digestSync via verifyChecksum \(.*checksum\.mjs:\d+\)\s+-\s+2\s/);
    expect(summary).not.toContain('start-up');
    // The report's recent blocks name them the same way.
    expect(reportOf(done, events).blocks.map((block) => block.site)).toEqual([row?.label, row?.label]);
  });

  it('names the library and the app’s function in the watchdog’s hang report too', async () => {
    const fixture = runFixture('../attribution/hang.mjs');
    try {
      const report = await new Promise<string>((resolve) => {
        const check = (): void => {
          if (/event loop hung.*\n/.test(fixture.stderr())) resolve(fixture.stderr());
        };
        fixture.child.stderr?.on('data', check);
        check();
      });
      expect(report).toMatch(/event loop hung: blocked for \d+ ms and still blocked at slow-crypt\.digestSync via rehashAll \(.*rehash\.mjs:\d+\)/);
    } finally {
      fixture.child.kill('SIGKILL');
    }
  });

  it('groups one hot function in one file as one site, shown at the line of its latest block', () => {
    const aggregates = new Aggregates();
    const file = '/srv/app/node_modules/bcryptjs/dist/bcrypt.js';
    const block = (line: number): BlockEvent => ({
      kind: 'block',
      duration: 200,
      threshold: 50,
      startedAt: 0,
      cause: 'js',
      site: '',
      stack: [
        { function: '_key', file, line, column: 1 },
        { function: 'compareSync', file, line: 1200, column: 1 },
        { function: 'verifyPassword', file: '/srv/app/src/auth.js', line: 57, column: 3 },
      ],
    });
    for (const line of [1110, 1106, 1096]) aggregates.add(block(line));
    // The app frame is the same; so is the key once the library's lines are not part of it.
    const top = aggregates.top(10);
    expect(top).toHaveLength(1);
    expect(top[0]).toMatchObject({ count: 3, library: 'bcryptjs', site: expect.stringMatching(/^verifyPassword \(.*auth\.js:57\)$/) });
    expect(top[0]?.label).toMatch(/^bcryptjs\.compareSync via verifyPassword \(/);
    // Without an app frame, the library's own function is the site, one row for its lines.
    const inner = new Aggregates();
    for (const line of [1110, 1106, 1096]) inner.add({ ...block(line), stack: block(line).stack.slice(0, 1) });
    expect(inner.top(10)).toHaveLength(1);
    expect(inner.top(10)[0]?.site).toMatch(/^_key \(.*bcrypt\.js:1096\)$/);
  });

  it('names a scoped package by its scope and name', () => {
    const aggregates = new Aggregates();
    aggregates.add({
      kind: 'block',
      duration: 200,
      threshold: 50,
      startedAt: 0,
      cause: 'js',
      site: '',
      stack: [{ function: 'RouterExplorer.explore', file: '/srv/app/node_modules/@nestjs/core/router/router-explorer.js', line: 3, column: 1 }],
    });
    expect(aggregates.top(1)[0]?.library).toBe('@nestjs/core');
  });
});

describe('start-up is not a blocker', () => {
  it('marks blocks in a module’s top-level code (ESM, a package, CommonJS) as start-up, apart from topBlockers', async () => {
    const { events, done } = await run('../startup/app.mjs');
    const startup = events.filter((event) => event.phase === 'startup');
    // Each module blocks 600 ms, far past the 50 ms threshold, so that a watchdog starved on a
    // loaded machine still takes the stack while the module's top level runs.
    const seen = JSON.stringify(events.map(({ phase, duration, site }) => ({ phase, duration, site })));
    expect(startup.map((event) => event.stack.length > 0), seen).toEqual([true, true, true]);
    expect(startup[1]?.library).toBe('slow-schema');
    const modules = done.stats.startup.modules.map((entry) => entry.module);
    expect(modules).toHaveLength(3);
    expect(modules).toContain('slow-schema');
    expect(modules.some((module) => /startup[/\\]lib[/\\]routes\.mjs$/.test(module))).toBe(true);
    expect(modules.some((module) => /startup[/\\]lib[/\\]tables\.cjs$/.test(module))).toBe(true);
    expect(done.stats.startup.blocks).toBe(3);
    expect(done.stats.startup.ms).toBe(startup.reduce((sum, event) => sum + event.duration, 0));
    for (const entry of done.stats.startup.modules) expect(entry.ms).toBeGreaterThan(200);
    // The app's own block after start-up is the only top blocker.
    expect(done.top.map((row) => row.site)).toEqual([expect.stringMatching(/^handleRequest \(/)]);
    const summary = summaryOf(done);
    expect(summary).toMatch(/start-up\s+\S+ m?s in 3 blocks loading modules: .*slow-schema \d+ ms/);
    expect(summary).not.toMatch(/top blockers[\s\S]*(routes\.mjs|slow-schema|tables\.cjs)/);
  });

  it('marks a require() from a CommonJS app as start-up', async () => {
    const { events, done } = await run('../startup/app.cjs');
    expect(events.map((event) => event.phase)).toEqual(['startup', 'startup', undefined]);
    // The first capture of a process may land too late to have a stack; the second does not.
    expect(events[1]?.site).toMatch(/^parseLocales \(.*locales\.cjs:\d+\)$/);
    expect(done.stats.startup.blocks).toBe(2);
    expect(done.stats.startup.modules.map((entry) => entry.module)).toContainEqual(expect.stringMatching(/lib[/\\]locales\.cjs$/));
    expect(done.top.map((row) => row.site)).toEqual([expect.stringMatching(/^handleRequest \(/)]);
  });

  it('leaves the entry module’s own top-level code (a script’s work) a top blocker', async () => {
    const fixture = runFixture('../startup/script.mjs');
    const done = await fixture.waitFor<{ events: BlockEvent[]; top: BlockerSummary[] }>((line) => line.type === 'done');
    expect(done.events.map((event) => [event.site, event.phase])).toEqual([[expect.stringMatching(/^exportRows \(/), undefined]]);
    expect(done.top.map((row) => row.site)).toEqual([expect.stringMatching(/^exportRows \(.*script\.mjs:\d+\)$/)]);
  });

  it('counts a block before the loop first went idle as start-up, stack or not', async () => {
    const fixture = runFixture('../startup/app.cjs', { args: ['early'] });
    const done = await fixture.waitFor<Done>((line) => line.type === 'done');
    const events = fixture.lines.filter((line) => line.type === 'block').map((line) => line.event as BlockEvent);
    expect(events.map((event) => event.phase)).toEqual(['startup', undefined]);
    expect(done.stats.startup.blocks).toBe(1);
    expect(done.top.map((row) => row.site)).toEqual([expect.stringMatching(/^handleRequest \(/)]);
  });

  it('logs a start-up block as loading modules, with no threaded() hint', async () => {
    const fixture = runFixture('../startup/app.cjs', { env: { ...process.env, LOOPGUARD_TEST_LOG: 'pretty' } });
    await fixture.exited;
    // One entry per logged block, from its `loopguard:` headline to the next.
    const entries = fixture.stderr().split(/^(?=loopguard: )/m).filter((entry) => entry.startsWith('loopguard: event loop'));
    const startup = entries.filter((entry) => entry.includes('while loading modules'));
    expect(startup).toHaveLength(2);
    expect(startup[1]).toMatch(/^loopguard: event loop blocked for \d+ ms while loading modules \(.*locales\.cjs\) \(threshold 50 ms\)/);
    for (const entry of startup) expect(entry).not.toContain('hint');
    // The app's own block still gets its hint.
    const own = entries.filter((entry) => !entry.includes('while loading modules'));
    expect(own).toHaveLength(1);
    expect(own[0]).toContain('threaded(handleRequest)');
  });
});
