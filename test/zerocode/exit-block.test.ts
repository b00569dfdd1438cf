// Nothing is lost at exit, with no code change: a job whose last step blocks the loop once and
// then ends (or calls process.exit(7)) has that block logged, in the summary and in the report,
// under `--import loopguard/register`, `-r loopguard/register` and the CLI, and exits as it
// would bare.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanEnv, cliPath, fixture, killLeftovers, registerCjs, registerEsm, run, type Running } from './helpers.js';

const node = process.execPath;
// Holds the app back until the watchdog is watching (the CLI does so by itself).
const waitReady = fixture('wait-ready.mjs');
const dir = mkdtempSync(join(tmpdir(), 'loopguard-exit-block-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(killLeftovers);

interface ReportJson {
  blocks: Array<{ site: string; duration: number; kind: string }>;
  stats: { blocks: { count: number } };
}

/** The app's own log line of the block (the CLI's summary alone is not it). */
const LOGGED = /loopguard: event loop blocked for \d+ ms \(threshold 100 ms\)\n\s+at buildYearlyTotals \(/;
const SUMMARY_ROW = /top blockers\n\s+site[^\n]*\n(\s+[^\n]*\n)*\s+buildYearlyTotals \(.*totals\.mjs:\d+\)/;

function lastStepOf(report: string): ReportJson['blocks'] {
  const data = JSON.parse(readFileSync(report, 'utf8')) as ReportJson;
  expect(data.stats.blocks.count).toBeGreaterThanOrEqual(1);
  return data.blocks.filter((block) => block.site.includes('buildYearlyTotals'));
}

async function finished(app: Running): Promise<number | null> {
  const { code, signal } = await app.exited;
  expect(signal).toBeNull();
  return code;
}

describe('a job whose last step blocks once', () => {
  const env = (report: string) => cleanEnv({ LOOPGUARD_THRESHOLD: '100', LOOPGUARD_LOG: 'pretty', LOOPGUARD_REPORT: report });

  it.each([
    ['ends by itself', [], 0],
    ['calls process.exit(7)', ['exit'], 7],
  ] as const)('under --import loopguard/register %s: logged, in the summary and in the report', async (_how, args, status) => {
    const bare = run(node, [fixture('nightly-job.mjs'), ...args], cleanEnv());
    expect(await finished(bare)).toBe(status);

    const report = join(dir, `register-${status}.json`);
    const app = run(node, ['--import', registerEsm, '--import', waitReady, fixture('nightly-job.mjs'), ...args], env(report));
    expect(await finished(app)).toBe(status);
    expect(app.stdout).toContain('"total"');
    expect(app.stderr).toMatch(LOGGED);
    expect(app.stderr).toMatch(SUMMARY_ROW);
    const [block, ...more] = lastStepOf(report);
    expect(more).toHaveLength(0);
    expect(block!.duration).toBeGreaterThanOrEqual(200);
  });

  it('under --import loopguard/register, a script whose top-level code blocks once and ends: logged and in the summary', async () => {
    const app = run(node, ['--import', registerEsm, '--import', waitReady, fixture('tally-script.mjs')], cleanEnv({ LOOPGUARD_THRESHOLD: '100' }));
    expect(await finished(app)).toBe(0);
    expect(app.stderr).toMatch(LOGGED);
    expect(app.stderr).toMatch(SUMMARY_ROW);
  });

  it('under -r loopguard/register (CommonJS) that ends by itself: logged and in the summary', async () => {
    const app = run(node, ['-r', registerCjs, '--import', waitReady, fixture('nightly-job.cjs')], cleanEnv({ LOOPGUARD_THRESHOLD: '100' }));
    expect(await finished(app)).toBe(0);
    expect(app.stderr).toMatch(/loopguard: event loop blocked for \d+ ms \(threshold 100 ms\)\n\s+at buildYearlyTotals \(/);
    expect(app.stderr).toMatch(/top blockers\n\s+site[^\n]*\n(\s+[^\n]*\n)*\s+buildYearlyTotals \(.*nightly-job\.cjs:\d+\)/);
  });

  it.each([
    ['ends by itself', [], 0],
    ['calls process.exit(7)', ['exit'], 7],
  ] as const)('under npx loopguard -- node job.mjs %s: logged once, counted once, status forwarded', async (_how, args, status) => {
    const report = join(dir, `cli-${status}.json`);
    const app = run(node, [cliPath, '--threshold', '100', '--report', report, '--', node, fixture('nightly-job.mjs'), ...args], cleanEnv());
    expect(await finished(app)).toBe(status);
    expect(app.stderr).toMatch(LOGGED);
    expect(app.stderr).toMatch(SUMMARY_ROW);
    // The app reported it at exit, and the CLI, which also heard of it from the watchdog, counts it once.
    const [block, ...more] = lastStepOf(report);
    expect(more, JSON.stringify(block)).toHaveLength(0);
    expect(block!.kind).toBe('block');
    expect(block!.duration).toBeGreaterThanOrEqual(200);
  });

  it('run as TypeScript through tsx under the CLI: logged with the .ts caller', async () => {
    const app = run(node, [cliPath, '--threshold', '100', '--', node, '--import', 'tsx', fixture('nightly-job.ts')], cleanEnv());
    expect(await finished(app)).toBe(0);
    expect(app.stderr).toMatch(LOGGED);
    expect(app.stderr).toMatch(/at closeTheBooks \(.*nightly-job\.ts:\d+:\d+\)/);
    expect(app.stderr).toMatch(SUMMARY_ROW);
  });
});
