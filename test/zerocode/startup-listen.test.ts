// Start-up with a stack (issue 8, point 3): a service whose bootstrap awaits its config, then
// builds its catalog for 300 ms, then listens. That block has a stack and comes after the loop
// first went idle, so neither module frames nor the first idle call it start-up; the first
// listen does. A block in a request after the listen is the app at work. A script that never
// listens keeps its block as a blocker. Traffic comes from this process.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { BlockerSummary, LoopStats } from '../../src/types.js';
import { cleanEnv, cliPath, fixture, get, killLeftovers, registerEsm, run } from './helpers.js';

const node = process.execPath;
const waitReady = fixture('wait-ready.mjs');
const dir = mkdtempSync(join(tmpdir(), 'loopguard-startup-listen-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => killLeftovers());

interface Report {
  stats: LoopStats;
  topBlockers: BlockerSummary[];
  blocks: Array<{ site: string; duration: number; request?: string }>;
}

const readReport = (path: string): Report => JSON.parse(readFileSync(path, 'utf8')) as Report;

describe('start-up lasts until the first server listens', () => {
  it('register: the 300 ms catalog build after the config await is start-up; the request block after listen is not', async () => {
    const report = join(dir, 'server.json');
    const env = cleanEnv({ LOOPGUARD_THRESHOLD: '50', LOOPGUARD_REPORT: report, LOOPGUARD_LOG: 'pretty', LOOPGUARD_SUMMARY: 'true' });
    const app = run(node, ['--import', registerEsm, '--import', waitReady, fixture('startup-listen/server.mjs')], env);
    const { port } = await app.nextJson<{ port: number }>();
    expect((await get(port, '/search/lamp')).status).toBe(200);
    await get(port, '/close');
    expect(await app.exited).toEqual({ code: 0, signal: null });

    const { stats, topBlockers } = readReport(report);
    // On a loaded machine the app's own module loading may be a start-up block too.
    const build = stats.startup?.modules.find((entry) => /^buildCatalog \(.*catalog\.mjs:\d+\)$/.test(entry.module));
    expect(build?.ms).toBeGreaterThanOrEqual(250);
    // Only the request's block is a top blocker.
    expect(topBlockers.map((row) => row.site)).toEqual([expect.stringMatching(/^searchCatalog /)]);
    expect(topBlockers[0]?.route).toBe('GET /search/lamp');
    // The log says start-up, with no threaded() hint for it; the request block keeps its hint.
    expect(app.stderr).toMatch(/event loop blocked for \d+ ms during start-up, before the first server listened, at buildCatalog \(/);
    expect(app.stderr).not.toContain('threaded(buildCatalog)');
    expect(app.stderr).toContain('threaded(searchCatalog)');
    // The summary gives start-up its own line, naming the site.
    expect(app.stderr).toMatch(/start-up\s+\S+ m?s in \d+ blocks? before the app was ready: .*buildCatalog \(/);
  });

  it('npx loopguard --: the same judgement, in the summary the CLI prints', async () => {
    const report = join(dir, 'server-cli.json');
    const args = [cliPath, '--threshold', '50', '--report', report, '--log', 'false', '--', node, fixture('startup-listen/server.mjs')];
    const app = run(node, args, cleanEnv());
    const { port } = await app.nextJson<{ port: number }>();
    expect((await get(port, '/search/desk')).status).toBe(200);
    await get(port, '/close');
    expect(await app.exited).toEqual({ code: 0, signal: null });

    const { stats, topBlockers } = readReport(report);
    expect(stats.startup?.modules.map((entry) => entry.module)).toContainEqual(expect.stringMatching(/^buildCatalog \(/));
    expect(topBlockers.map((row) => row.site)).toEqual([expect.stringMatching(/^searchCatalog /)]);
    expect(app.stderr).toMatch(/start-up\s+\S+ m?s in \d+ blocks? before the app was ready: .*buildCatalog \(/);
  });

  it('register on a Nest app: the async provider building its catalog in NestFactory.create is start-up; the route block is not', async () => {
    const report = join(dir, 'nest.json');
    const env = cleanEnv({ LOOPGUARD_THRESHOLD: '50', LOOPGUARD_REPORT: report, LOOPGUARD_LOG: 'false', LOOPGUARD_SUMMARY: 'false' });
    const app = run(node, ['--import', registerEsm, '--import', waitReady, fixture('startup-listen/nest.mjs')], env);
    const { port } = await app.nextJson<{ port: number }>();
    expect((await get(port, '/search/lamp')).status).toBe(200);
    await get(port, '/close');
    expect(await app.exited).toEqual({ code: 0, signal: null });

    const { stats, topBlockers } = readReport(report);
    // The build is start-up: its own row there, or (on a loaded machine, when the config read
    // comes back before the loop beats again) part of the block loading @nestjs/platform-express.
    expect(stats.startup?.ms).toBeGreaterThanOrEqual(290);
    expect(topBlockers.map((row) => [row.site.replace(/ .*/, ''), row.route])).toEqual([['searchCatalog', 'GET /search/:term']]);
  });

  it('register: a script that never listens keeps its block as a top blocker, reported before it exits', async () => {
    const report = join(dir, 'script.json');
    const env = cleanEnv({ LOOPGUARD_THRESHOLD: '50', LOOPGUARD_REPORT: report, LOOPGUARD_LOG: 'false', LOOPGUARD_SUMMARY: 'false' });
    const app = run(node, ['--import', registerEsm, '--import', waitReady, fixture('startup-listen/script.mjs')], env);
    expect(await app.exited).toEqual({ code: 0, signal: null });

    const { stats, topBlockers } = readReport(report);
    expect(stats.startup?.blocks ?? 0).toBe(0);
    expect(topBlockers.map((row) => row.site)).toEqual([expect.stringMatching(/^buildCatalog /)]);
  });
});
