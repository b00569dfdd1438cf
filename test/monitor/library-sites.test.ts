// Issue 8 points 2 and 9, as seen on apps installed from npm: an app that is itself a package
// (json-server, Verdaccio) has no frame of the user's own, loopguard's own source-map reading
// must never be blamed on the app, and a hint names only a function the user could move.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BlockEvent, BlockerSummary, LoopStats, StackFrame } from 'loopguard';
import { Aggregates } from '../../src/monitor/aggregates.js';
import { Reporter } from '../../src/monitor/reporter.js';
import { collectReport } from '../../src/report/collect.js';
import { renderHtml } from '../../src/report/html.js';
import { formatSummary } from '../../src/report/summary.js';
import { runFixture } from './fixture.js';

/** This copy of loopguard (its dist/ and src/). */
const ownRoot = fileURLToPath(new URL('../../', import.meta.url));

interface Done {
  type: 'done';
  stats: LoopStats;
  top: BlockerSummary[];
}

const blocks = (lines: Array<Record<string, unknown>>): BlockEvent[] =>
  lines.filter((line) => line.type === 'block').map((line) => line.event as BlockEvent);

describe('an app that is itself a package', () => {
  it('names one hot spot in a package’s handler one row, wherever in it the stack was taken', async () => {
    const fixture = runFixture('../attribution/packaged.mjs');
    try {
      const { port } = await fixture.waitFor<{ port: number }>((line) => line.type === 'listening');
      const innermost = (event: BlockEvent): string | undefined =>
        event.stack.find((frame) => !frame.file.startsWith('node:'))?.function.split('.').pop();
      const withStack = (): BlockEvent[] => blocks(fixture.lines).filter((event) => event.stack.length > 0);
      // From this process while the fixture's loop is blocked: its time goes in list-server's
      // own callback (search), then in chain-utils' loop (sort), both inside list-server's `list`.
      // Again (a few times at most) when a busy host left a block without its stack.
      for (const [mode, inner] of [
        ['search', 'deepQuery'],
        ['sort', 'sortSlowly'],
      ]) {
        for (let attempt = 0; attempt < 5 && !withStack().some((event) => innermost(event) === inner); attempt += 1) {
          const before = blocks(fixture.lines).length;
          const response = await fetch(`http://127.0.0.1:${port}/posts?mode=${mode}&ms=300`);
          expect(response.status).toBe(200);
          await response.arrayBuffer();
          await fixture.waitFor(() => blocks(fixture.lines).length > before);
        }
      }
      fixture.child.send('finish');
      const done = await fixture.waitFor<Done>((line) => line.type === 'done');
      const events = withStack();
      // The stacks were taken in different packages' code...
      expect(events.map(innermost)).toEqual(expect.arrayContaining(['deepQuery', 'sortSlowly']));
      // ...but the cause is one: the handler express called, in the package that ran it.
      for (const event of events) {
        expect(event.site).toMatch(/^list \(.*node_modules[/\\]list-server[/\\]lib[/\\]router[/\\]plural\.js:\d+\)$/);
        expect(event.library).toBe('list-server');
      }
      const rows = done.top.filter((row) => row.stack.length > 0);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ count: events.length, library: 'list-server' });
      expect(rows[0]?.label).toMatch(/^list-server via list \(.*plural\.js:\d+\)$/);
      // Nothing of the user's own to hand to threaded(): no hint.
      expect(fixture.stderr()).toMatch(/blocked for \d+ ms at list-server via list \(/);
      expect(fixture.stderr()).not.toContain('threaded(');
    } finally {
      fixture.child.kill('SIGKILL');
    }
  });
});

describe('a package’s code after an await (no framework below it)', () => {
  it('is named after the code that called the library, not after where the stack’s depth limit cut it', () => {
    // Verdaccio's shape: bcryptjs runs in verdaccio-htpasswd's compiled async function, whose
    // outermost frames are Babel's helpers, different from capture to capture.
    const htpasswd = '/srv/registry/node_modules/verdaccio-htpasswd/build/utils.js';
    const bcrypt = '/srv/registry/node_modules/bcryptjs/dist/bcrypt.js';
    const capture = (line: number, outermost: string): BlockEvent => ({
      kind: 'block',
      duration: 300,
      threshold: 100,
      startedAt: 0,
      cause: 'js',
      site: '',
      stack: [
        { function: '_key', file: bcrypt, line, column: 9 },
        { function: 'next', file: bcrypt, line: 1217, column: 21 },
        { function: 'bcrypt.compare', file: bcrypt, line: 306, column: 20 },
        { function: '<anonymous>', file: htpasswd, line: 59, column: 25 },
        { function: 'Generator.next', file: htpasswd, line: 2, column: 1 },
        { function: outermost, file: htpasswd, line: 2, column: 1 },
      ],
    });
    const aggregates = new Aggregates();
    aggregates.add(capture(1110, '_next'));
    aggregates.add(capture(1096, 'asyncGeneratorStep'));
    const top = aggregates.top(10);
    expect(top).toHaveLength(1);
    expect(top[0]).toMatchObject({ count: 2, library: 'bcryptjs' });
    expect(top[0]?.label).toMatch(/^bcryptjs\.compare via <anonymous> \(.*verdaccio-htpasswd[/\\]build[/\\]utils\.js:59\)$/);
  });
});

describe('start-up in an app that is a package', () => {
  it('names the package being loaded, not the Node built-in it loaded lazily', () => {
    const aggregates = new Aggregates();
    const express = '/srv/json-server/node_modules/express/lib/router/layer.js';
    aggregates.add({
      kind: 'block',
      duration: 545,
      threshold: 100,
      startedAt: 0,
      cause: 'js',
      site: '',
      phase: 'startup',
      // json-server's start: express's layer.js requires a built-in, itself compiled by the loader.
      stack: [
        { function: 'Object.<anonymous>', file: 'node:path', line: 1, column: 1 },
        { function: 'Module._compile', file: 'node:internal/modules/cjs/loader', line: 1554, column: 14 },
        { function: 'Object.<anonymous>', file: express, line: 16, column: 18 },
        { function: 'Module._compile', file: 'node:internal/modules/cjs/loader', line: 1554, column: 14 },
        { function: 'Object.<anonymous>', file: '/srv/json-server/node_modules/json-server/lib/server/index.js', line: 3, column: 17 },
      ],
    });
    expect(aggregates.startup().modules).toEqual([{ module: 'express', ms: 545 }]);
  });
});

describe('loopguard’s own work', () => {
  it('is never blamed on the app: decoding a large source map is counted as loopguard’s own', async () => {
    const fixture = runFixture('large-source-map.mjs');
    const done = await fixture.waitFor<Done>((line) => line.type === 'done');
    await fixture.exited;
    const events = blocks(fixture.lines);
    // The app's block, mapped through the large map to its source.
    const app = events.find((event) => event.stack.some((frame) => frame.function === 'rebuildIndex'));
    expect(app?.site).toMatch(/^rebuildIndex \(.*src[/\\]search[/\\]index\.ts:\d+\)$/);
    expect(app?.library).toBeUndefined();
    const ownFrame = (frame: StackFrame): boolean =>
      /[/\\]node_modules[/\\]@jridgewell[/\\]|[/\\]node_modules[/\\]loopguard[/\\]/.test(frame.file) ||
      frame.file.startsWith(ownRoot);
    // Every block in the map's reading and decoding (when it took long enough to be one) is
    // loopguard's, counted in stats().own, and in no top blocker row.
    const own = events.filter((event) => event !== app && event.stack.some(ownFrame));
    for (const event of own) {
      expect(event.library).toBe('loopguard');
      expect(event.site).not.toMatch(/rebuildIndex/);
    }
    expect(done.stats.own).toEqual({ blocks: own.length, ms: own.reduce((sum, event) => sum + event.duration, 0) });
    for (const row of done.top) {
      expect(row.library ?? '').not.toMatch(/@jridgewell|loopguard/);
      expect(row.stack.some(ownFrame) && !row.stack.some((frame) => frame.function === 'rebuildIndex')).toBe(false);
    }
    expect(fixture.stderr()).not.toMatch(/@jridgewell\/sourcemap-codec\.|at @jridgewell/);
    const report = collectReport({ threshold: 50, stacksAvailable: true, stats: () => done.stats, topBlockers: () => done.top, timeline: () => [] });
    const summary = formatSummary(report);
    if (own.length > 0) {
      expect(summary).toMatch(/loopguard +[\d.]+ m?s in \d+ blocks? of its own work/);
      expect(renderHtml(report)).toMatch(/<p id="own">loopguard's own work .* blocked the loop for [\d.]+ m?s in \d+ blocks?/);
    }
  });

  it('reads a block’s source maps without holding its event back on a loop busy every turn', async () => {
    const fixture = runFixture('busy-mapped.mjs');
    const first = await fixture.waitFor<{ turn: number | null }>((line) => line.type === 'first');
    await fixture.exited;
    // The 16 maps are read at once and decoded in a turn: the event comes some turns after the
    // block (a file read takes a few), not one or two turns per map (32 and more).
    expect(first.turn).not.toBeNull();
    expect(first.turn).toBeLessThan(26);
  });

  it('leaves a stack of loopguard’s frames and its source-map library out of the top blockers', () => {
    const aggregates = new Aggregates();
    // loopguard's own built file, where this copy of it sits.
    const own = fileURLToPath(new URL('../../dist/chunk-ABC.js', import.meta.url));
    const event: BlockEvent = {
      kind: 'block',
      duration: 240,
      threshold: 100,
      startedAt: 0,
      cause: 'js',
      site: '',
      stack: [
        { function: 'decode', file: '/srv/app/node_modules/@jridgewell/sourcemap-codec/dist/sourcemap-codec.mjs', line: 90, column: 3 },
        { function: 'decodedMappings', file: '/srv/app/node_modules/@jridgewell/trace-mapping/dist/trace-mapping.mjs', line: 300, column: 5 },
        { function: 'originalFrame', file: own, line: 10, column: 1 },
        { function: 'BlockAssembler.#finish', file: own, line: 200, column: 1 },
        { function: 'processImmediate', file: 'node:internal/timers', line: 483, column: 21 },
      ],
    };
    aggregates.add(event);
    // A frame of the app's own further out (its listener, a withContext callback): the app's.
    aggregates.add({ ...event, stack: [...event.stack.slice(0, 3), { function: 'onBlock', file: '/srv/app/src/alerts.js', line: 3, column: 1 }] });
    expect(aggregates.own()).toEqual({ ms: 240, blocks: 1 });
    expect(aggregates.top(10).map((row) => row.site)).toEqual([expect.stringMatching(/^onBlock \(/)]);
  });
});

describe('the threaded() hint', () => {
  const written: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    written.length = 0;
  });
  const capture = (): void => {
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
  };
  const base: BlockEvent = { kind: 'block', duration: 300, threshold: 100, startedAt: 0, cause: 'unknown', site: '<unknown>', stack: [] };

  it('is not printed for a block without a stack (nothing to move)', () => {
    capture();
    new Reporter('pretty', 0).block(base);
    expect(written.join('')).toContain('(stack not captured)');
    expect(written.join('')).not.toContain('hint');
  });

  it('names the user’s function when a frame of the app’s code is known', () => {
    capture();
    new Reporter('pretty', 0).block({
      ...base,
      cause: 'js',
      stack: [{ function: 'buildIndex', file: '/srv/app/src/search.js', line: 4, column: 2 }],
    });
    expect(written.join('')).toContain('hint: move it off the loop with threaded(buildIndex)');
  });
});
