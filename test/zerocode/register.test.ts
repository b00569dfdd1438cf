// loopguard/register and the CLI on an app that knows nothing of loopguard. The app blocks
// once in a request sent from this process, then closes its server when asked and must
// exit by itself.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, cliPath, fixture, get, networkReferences, registerCjs, registerEsm, run, type Running } from './helpers.js';

// Waits for the watchdog thread before the app runs (see the fixture), as the CLI does by
// itself: with a bare --import, blocks in the first moments of a process, while that thread
// starts, are counted but have no stack yet.
const waitReady = fixture('wait-ready.mjs');

const node = process.execPath;
const dir = mkdtempSync(join(tmpdir(), 'loopguard-register-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Drive the app: one blocking request, then /close; resolves with how the process ended. */
async function driveApp(app: Running) {
  const { port } = await app.nextJson<{ port: number }>();
  expect(await get(port, '/invoice/42?token=secret')).toEqual({ status: 200, body: 'invoice\n' });
  await get(port, '/close');
  return app.exited;
}

describe('zero-code use', () => {
  it('npx loopguard --threshold 50 --report r.html -- node app.mjs exits 0 and names the function, the path and p99', async () => {
    const report = join(dir, 'cli.html');
    const app = run(node, [cliPath, '--threshold', '50', '--report', report, '--', node, fixture('app.mjs')], cleanEnv());
    expect(await driveApp(app)).toEqual({ code: 0, signal: null });
    expect(app.stderr).toContain('renderInvoice');
    expect(app.stderr).toContain('/invoice/42');
    expect(app.stderr).not.toContain('token=secret');
    expect(app.stderr).toMatch(/loop delay\s+p50 [\d.]+ m?s\s+p90 [\d.]+ m?s\s+p99 [\d.]+ m?s/);
    expect(app.stderr).toMatch(/blocked\s+[1-9]\d* blocks?/);
    expect(app.stderr).toContain(`report: ${report}`);
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('renderInvoice');
    expect(networkReferences(html)).toEqual([]);
    expect(html).not.toMatch(/(?:src|href)\s*=\s*["']?https?:/i);
  });

  it('node --import loopguard/register app.mjs reports the same and the app still exits by itself', async () => {
    const app = run(node, ['--import', registerEsm, '--import', waitReady, fixture('app.mjs')], cleanEnv({ LOOPGUARD_THRESHOLD: '50' }));
    expect(await driveApp(app)).toEqual({ code: 0, signal: null });
    expect(app.stderr).toContain('renderInvoice');
    expect(app.stderr).toContain('/invoice/42');
    expect(app.stderr).toMatch(/top blockers\n\s+site\s+route\s+count\s+total\s+max\n\s+renderInvoice/);
  });

  it('node -r loopguard/register app.cjs reports the block of a CommonJS app', async () => {
    const app = run(node, ['-r', registerCjs, '--import', waitReady, fixture('app.cjs')], cleanEnv({ LOOPGUARD_THRESHOLD: '50' }));
    expect(await driveApp(app)).toEqual({ code: 0, signal: null });
    expect(app.stderr).toContain('renderInvoice');
    expect(app.stderr).toMatch(/p99 [\d.]+ m?s/);
  });

  it('writes the JSON report with the timeline, the blocks and the top blockers', async () => {
    const report = join(dir, 'r.json');
    const env = cleanEnv({ LOOPGUARD_THRESHOLD: '50', LOOPGUARD_REPORT: report, LOOPGUARD_LOG: 'false' });
    const app = run(node, ['--import', registerEsm, '--import', waitReady, fixture('app.mjs')], env);
    expect(await driveApp(app)).toEqual({ code: 0, signal: null });
    const data = JSON.parse(readFileSync(report, 'utf8'));
    expect(data).toMatchObject({ version: 1, threshold: 50, command: expect.stringContaining('app.mjs') });
    expect(Array.isArray(data.timeline)).toBe(true);
    expect(data.blocks.length).toBeGreaterThanOrEqual(1);
    expect(data.blocks.some((block: { duration: number }) => block.duration >= 300)).toBe(true);
    expect(data.topBlockers[0].site).toContain('renderInvoice');
    expect(data.stats.blocks.count).toBeGreaterThanOrEqual(1);
  });

  it('npx loopguard --sync-calls warn reports a blocking Node API called in a request, not at start-up', async () => {
    const app = run(node, [cliPath, '--sync-calls', 'warn', '--', node, fixture('app-sync.mjs')], cleanEnv());
    const { port } = await app.nextJson<{ port: number }>();
    expect((await get(port, '/config')).status).toBe(200);
    await get(port, '/close');
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.stderr).toContain('fs.readFileSync');
    expect(app.stderr).toContain('loadConfig');
    expect(app.stderr).toContain('/config');
    // One report: the start-up read outside any request is allowed.
    expect(app.stderr.match(/blocking call fs\.readFileSync/g)).toHaveLength(1);
  });

  it('npx loopguard watches the app\'s start-up with stacks: a block at module level names its function', async () => {
    const app = run(node, [cliPath, '--threshold', '50', '--', node, fixture('startup-block.mjs')], cleanEnv());
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.stderr).toMatch(/event loop blocked for \d+ ms \(threshold 50 ms\)\n\s+at warmCache \(/);
  });

  it('refuses an invalid LOOPGUARD_* variable with a message naming it, before the app runs', async () => {
    const app = run(node, ['--import', registerEsm, fixture('exit-code.mjs')], cleanEnv({ LOOPGUARD_THRESHOLD: '50ms' }));
    expect(await app.exited).toEqual({ code: 9, signal: null });
    expect(app.stderr).toBe('loopguard: LOOPGUARD_THRESHOLD must be a number of ms >= 1, got "50ms"\n');
    expect(app.stdout).toBe('');
  });

  it('keeps Node\'s default for a signal the app does not handle: death by the signal at once, with no summary', async () => {
    // A bare register run adds no signal listener (it would change how the app dies), and
    // 'exit' does not fire on death by a signal: the summary is the CLI's to print then.
    const app = run(node, ['--import', registerEsm, fixture('no-handler.mjs')], cleanEnv());
    await app.nextJson();
    app.child.kill('SIGINT');
    expect(await app.exited).toEqual({ code: null, signal: 'SIGINT' });
    expect(app.stderr).not.toContain('loopguard summary: ');
  });

  it('prints the summary when the app handles a signal and then exits', async () => {
    const app = run(node, ['--import', registerEsm, fixture('graceful.mjs')], cleanEnv());
    await app.nextJson();
    app.child.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.stderr).toContain('loopguard summary: ');
  });

  it('watches only the main thread: a worker thread that inherits the preload starts no monitor', async () => {
    const report = join(dir, 'worker.json');
    const env = cleanEnv({ LOOPGUARD_THRESHOLD: '50', LOOPGUARD_REPORT: report });
    const app = run(node, ['--import', registerEsm, '--import', waitReady, fixture('worker-block.mjs')], env);
    expect(await app.nextJson()).toEqual({ workerExit: 0 });
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.stderr.match(/loopguard summary/g)).toHaveLength(1);
    expect(app.stderr).not.toContain('crunchInWorker');
    // The worker's 300 ms never shows up as a block (a busy machine may still delay the main
    // thread a little, which is why this is not "no block at all").
    const data = JSON.parse(readFileSync(report, 'utf8'));
    expect(data.stats.blocks.longestMs).toBeLessThan(250);
  });

  it('prints nothing at exit with LOOPGUARD_SUMMARY=false', async () => {
    const app = run(node, ['--import', registerEsm, fixture('exit-code.mjs')], cleanEnv({ LOOPGUARD_SUMMARY: 'false' }));
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.stderr).not.toContain('loopguard summary');
  });
});
