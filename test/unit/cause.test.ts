/**
 * Judging a block's cause from what the watchdog saw (src/monitor/cause.ts) and keeping the
 * stacks of a long block (src/shared/stack-trail.ts). The processes behind these figures are in
 * test/monitor/causes.test.ts; here, the rules at their edges.
 */
import { describe, expect, it } from 'vitest';
import { judgeCause, type CauseInput, type MainThreadTime } from '../../src/monitor/cause.js';
import { MAX_STACKS, StackTrail } from '../../src/shared/stack-trail.js';

const block = (input: Partial<CauseInput>): CauseInput => ({
  from: 0,
  to: 400,
  ownMs: 0,
  native: false,
  gc: false,
  stack: true,
  main: undefined,
  hostMs: 0,
  threshold: 50,
  ...input,
});
const time = (runMs: number, queueMs: number, parked = 0, samples = 30, windowMs = 360): MainThreadTime => ({
  windowMs,
  runMs,
  queueMs,
  samples,
  parked,
});

describe('judgeCause', () => {
  it('is host when the watchdog itself was held for most of the block, even with a stack', () => {
    expect(judgeCause(block({ hostMs: 380 }))).toBe('host');
  });

  it('is not host when the app computed more than a threshold in it, however slowly', () => {
    // 1.8 s block, 25% of it on a CPU, the rest waiting for one: the app's work (measured).
    expect(judgeCause(block({ to: 1800, main: time(440, 1220, 0, 118, 1760) }))).toBe('js');
    expect(judgeCause(block({ hostMs: 380, main: time(300, 40) }))).toBe('js');
    // A 290 ms block at threshold 100 that got 84 ms of CPU and waited 137 ms for more (measured).
    expect(judgeCause(block({ to: 290, ownMs: 60, threshold: 100, main: time(84, 137, 0, 9, 219) }))).toBe('js');
  });

  it("is host when the loop sat in its poll for most of the block, its beat due: the main thread's own evidence, with no watchdog", () => {
    // A 600 ms SIGSTOP of an idle process: the beat's timer came 560 ms late, the loop idle all along.
    expect(judgeCause(block({ to: 560, stack: false, pollMs: 555 }))).toBe('host');
    // Even beside a stack taken of whatever ran as the process resumed.
    expect(judgeCause(block({ to: 560, pollMs: 555 }))).toBe('host');
    // A stop inside the app's own work is busy time: not this rule's (the watchdog's gap decides).
    expect(judgeCause(block({ to: 560, pollMs: 100 }))).toBe('js');
    // Nor when the watchdog saw the app compute more than a threshold meanwhile.
    expect(judgeCause(block({ to: 560, pollMs: 555, main: time(300, 40) }))).toBe('js');
  });

  it('is host when the main thread was runnable but given no CPU', () => {
    expect(judgeCause(block({ main: time(10, 340) }))).toBe('host');
  });

  it('is wait when the main thread slept through the block, with or without a call', () => {
    expect(judgeCause(block({ main: time(5, 3) }))).toBe('wait');
    expect(judgeCause(block({ native: true, main: time(5, 3) }))).toBe('wait');
  });

  it('counts sleeping samples where schedstat is missing', () => {
    expect(judgeCause(block({ main: time(0, Number.NaN, 28, 30) }))).toBe('wait');
    expect(judgeCause(block({ main: time(350, Number.NaN, 1, 30) }))).toBe('js');
  });

  it('judges as before when the samples are too few or too short to say', () => {
    expect(judgeCause(block({ main: time(0, 0, 1, 1, 0) }))).toBe('js');
    expect(judgeCause(block({ main: time(0, Number.NaN, 3, 3, 40) }))).toBe('js');
    expect(judgeCause(block({ native: true, main: undefined }))).toBe('native');
    expect(judgeCause(block({ gc: true, main: time(350, 10) }))).toBe('gc');
    // A full collection: the main thread sleeps while V8's helpers work (measured).
    expect(judgeCause(block({ gc: true, main: time(7, 4, 20, 21, 256) }))).toBe('gc');
    expect(judgeCause(block({ stack: false, main: time(350, 10) }))).toBe('unknown');
  });
});

describe('StackTrail', () => {
  const frame = (fn: string, line = 1, file = '/app/catalog.js') => ({ function: fn, file, line, column: 1 });

  it('keeps the latest stack and the distinct ones oldest first, a loop at other lines counting once', () => {
    const trail = new StackTrail();
    trail.add(10, [frame('loadCatalog', 3), frame('refresh')]);
    trail.add(20, [frame('loadCatalog', 4), frame('refresh')]);
    trail.add(30, [frame('rebuildIndex', 9), frame('refresh')], true);
    expect(trail.latest).toMatchObject({ at: 30, late: true, stack: [{ function: 'rebuildIndex' }, { function: 'refresh' }] });
    expect(trail.stacks().map((stack) => stack[0]?.function)).toEqual(['loadCatalog', 'rebuildIndex']);
    expect(trail.seenAt()).toEqual([10, 30]);
    expect(trail.samples).toBe(3);
  });

  it(`keeps at most ${MAX_STACKS}: the first and the most recent`, () => {
    const trail = new StackTrail();
    for (let step = 0; step < 20; step++) trail.add(step, [frame(`step${step}`)]);
    const names = trail.stacks().map((stack) => stack[0]?.function);
    expect(names).toHaveLength(MAX_STACKS);
    expect(names[0]).toBe('step0');
    expect(names.at(-1)).toBe('step19');
  });
});
