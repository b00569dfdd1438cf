import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { afterEach, describe, expect, it } from 'vitest';
import type { BlockEvent } from 'loopguard';
import { fixturePath, runFixture, type Fixture } from './fixture.js';

let fixture: Fixture | undefined;
afterEach(() => {
  if (fixture?.child.exitCode === null && fixture.child.signalCode === null) fixture.child.kill('SIGKILL');
  fixture = undefined;
});

describe('the monitor in a process of its own', () => {
  it('reports an infinite loop on stderr, naming the spinning function, within hangTimeout + 1 s', async () => {
    fixture = runFixture('hang.mjs', { args: ['500'] });
    await fixture.waitFor((line) => line['type'] === 'spinning');
    const spinningAt = Date.now();
    const current = fixture;
    const reportedAt = await new Promise<number>((resolve) => {
      const check = (): void => {
        if (/event loop hung/.test(current.stderr()) && /at spinForever \(/.test(current.stderr())) resolve(Date.now());
      };
      current.child.stderr?.on('data', check);
      check();
    });
    expect(reportedAt - spinningAt).toBeLessThan(500 + 1000);
    expect(fixture.stderr()).toMatch(/blocked for \d+ ms and still blocked/);
    expect(fixture.stderr()).toMatch(/at spinForever \(test\/fixtures\/monitor\/busy\.mjs:\d+:\d+\)/);
  });

  it('maps the hang report of TypeScript run through tsx to the .ts busy line', async () => {
    const source = readFileSync(fixturePath('hang-typescript.ts'), 'utf8').split('\n');
    const busyLine = source.findIndex((text) => text.includes('// busy line')) + 1;
    fixture = runFixture('hang-typescript.ts', { execArgv: ['--import', 'tsx'] });
    const current = fixture;
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (/at countForever \(/.test(current.stderr())) resolve();
      };
      current.child.stderr?.on('data', check);
      check();
    });
    expect(fixture.stderr()).toContain(`at countForever (test/fixtures/monitor/hang-typescript.ts:${busyLine}:`);
  });

  it('writes the hang report as a JSON line when log is json', async () => {
    fixture = runFixture('hang.mjs', { args: ['300', 'json'] });
    const current = fixture;
    const line = await new Promise<Record<string, unknown>>((resolve) => {
      const check = (): void => {
        const found = current.stderr().split('\n').find((text) => text.includes('"kind":"hang"') && text.includes('spinForever'));
        if (found !== undefined) resolve(JSON.parse(found) as Record<string, unknown>);
      };
      current.child.stderr?.on('data', check);
      check();
    });
    expect(line).toMatchObject({ msg: 'event loop hang', pid: fixture.child.pid, kind: 'hang', threshold: 50 });
    expect((line['stack'] as Array<{ function: string }>)[0]?.function).toBe('spinForever');
  });

  it('reports TypeScript run through tsx at the .ts file and the busy line', async () => {
    const source = readFileSync(fixturePath('typescript.ts'), 'utf8').split('\n');
    const busyLine = source.findIndex((text) => text.includes('// busy line')) + 1;
    for (const execArgv of [['--import', 'tsx'], ['--enable-source-maps', '--import', 'tsx']]) {
      fixture = runFixture('typescript.ts', { execArgv });
      const { event } = await fixture.waitFor<{ event: BlockEvent }>(
        (line) => line['type'] === 'block' && (line['event'] as BlockEvent).stack.some((f) => f.function === 'crunch'),
      );
      expect(event.stack[0]).toMatchObject({ function: 'crunch', line: busyLine });
      expect(event.stack[0]?.file).toBe(fixturePath('typescript.ts'));
      expect(await fixture.exited).toEqual({ code: 0, signal: null });
    }
  });

  it('maps a bundle with a separate .map file back to the .ts line, with or without --enable-source-maps', async () => {
    const source = fixturePath('bundled-source.ts');
    const busyLine = readFileSync(source, 'utf8').split('\n').findIndex((text) => text.includes('// busy line')) + 1;
    const outdir = mkdtempSync(join(tmpdir(), 'loopguard-bundle-'));
    try {
      const outfile = join(outdir, 'bundle.mjs');
      buildSync({ entryPoints: [source], outfile, bundle: true, format: 'esm', platform: 'node', sourcemap: 'linked' });
      for (const execArgv of [[], ['--enable-source-maps']]) {
        fixture = runFixture('bundled.mjs', { args: [outfile], execArgv });
        const { event } = await fixture.waitFor<{ event: BlockEvent }>(
          (line) => line['type'] === 'block' && (line['event'] as BlockEvent).stack.some((f) => f.function === 'crunchBundled'),
        );
        expect(event.stack[0]).toMatchObject({ file: source, line: busyLine });
        expect(await fixture.exited).toEqual({ code: 0, signal: null });
      }
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it("works through require('loopguard'), and the ESM and CJS builds share one monitor", async () => {
    fixture = runFixture('commonjs.cjs');
    const same = await fixture.waitFor<{ same: boolean; threshold: number }>((line) => line['type'] === 'same');
    expect(same).toEqual({ type: 'same', same: true, threshold: 50 });
    const { event } = await fixture.waitFor<{ event: BlockEvent }>(
      (line) => line['type'] === 'block' && (line['event'] as BlockEvent).stack.some((f) => f.function === 'spinFor'),
    );
    expect(event.stack[0]?.function).toBe('spinFor');
    expect(event.stack[0]?.file).toMatch(/busy\.cjs$/);
    expect(event.context).toEqual({ name: 'cjs-job' });
    expect(await fixture.exited).toEqual({ code: 0, signal: null });
  });

  it('exits promptly when process.exit() comes during a capture, without waiting for the debugger', async () => {
    for (const spinMs of [60, 75, 90]) {
      fixture = runFixture('exit-mid-block.mjs', { args: [String(spinMs)] });
      expect(await fixture.exited).toEqual({ code: 0, signal: null });
      expect(fixture.stderr()).not.toMatch(/Waiting for the debugger/);
    }
  });

  it('runs without stacks and says so once when a debugger port is open', async () => {
    fixture = runFixture('inspector-attached.mjs');
    const line = await fixture.waitFor<{ stacksAvailable: boolean; event: BlockEvent }>(
      (l) => l['type'] === 'block' && (l['event'] as BlockEvent).duration >= 250,
    );
    expect(line.stacksAvailable).toBe(false);
    expect(line.event.stack).toEqual([]);
    expect(line.event.duration).toBeGreaterThanOrEqual(250);
    expect(await fixture.exited).toEqual({ code: 0, signal: null });
    expect(fixture.stderr().match(/stack capture is unavailable/g)).toHaveLength(1);
  });

  it('measures blocks without stacks when started inside a worker thread', async () => {
    fixture = runFixture('in-worker.mjs');
    const line = await fixture.waitFor<{ stacksAvailable: boolean; event: BlockEvent }>((l) => l['type'] === 'block');
    expect(line.stacksAvailable).toBe(false);
    expect(line.event.duration).toBeGreaterThanOrEqual(250);
    expect(line.event.stack).toEqual([]);
    expect(await fixture.exited).toEqual({ code: 0, signal: null });
  });
});

describe('a capture that lands in a derived-class constructor before super()', () => {
  it('leaves the constructor working, and still reads the stack and the context', async () => {
    fixture = runFixture('derived-constructor.mjs');
    const { events } = await fixture.waitFor<{ events: Array<{ kind: string; top?: string; context?: unknown }> }>(
      (line) => line['type'] === 'done',
    );
    expect(fixture.lines.filter((line) => line['type'] === 'constructed')).toEqual([
      { type: 'constructed', ms: 300, error: null },
      { type: 'constructed', ms: 1300, error: null },
    ]);
    // The 1300 ms block outlives hangTimeout (1000 ms): its report comes from the paused frames.
    expect(events.filter((event) => event.top === 'Blocking')).toEqual([
      { kind: 'block', top: 'Blocking', context: { job: 'construct-300' } },
      { kind: 'hang', top: 'Blocking', context: { job: 'construct-1300' } },
    ]);
    expect(await fixture.exited).toEqual({ code: 0, signal: null });
  });
});
