// The CLI holds the numbers (streamed by the app and its watchdog thread), so it prints the
// summary and writes the report however the app ends, including endings in which the app
// itself can print nothing: SIGHUP with no handler, SIGKILL, out of memory.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanEnv, cliPath, fixture, killLeftovers, registerEsm, run } from './helpers.js';

const node = process.execPath;
const dir = mkdtempSync(join(tmpdir(), 'loopguard-endings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// A failing test must not leave a stuck app spinning behind it.
afterEach(killLeftovers);

function exportJob(name: string, ending: string, nodeFlags: readonly string[] = []) {
  const report = join(dir, `${name}.json`);
  const cli = run(
    node,
    [cliPath, '--threshold', '50', '--report', report, '--', node, ...nodeFlags, fixture('export-job.mjs'), ending],
    cleanEnv(),
  );
  return { cli, report };
}

/**
 * The summary on stderr and the report on disk both name the batch that blocked. (Other blocks
 * may be counted too: GC pauses near the heap limit, or a busy host descheduling the app.)
 */
function expectBlockReported(stderr: string, report: string): void {
  expect(stderr, stderr).toContain('loopguard summary: ');
  expect(stderr).toMatch(/blocked\s+\d+ blocks?, /);
  expect(stderr, stderr).toMatch(/\n\s+compressBatch \(.*compress\.mjs:\d+\)/);
  expect(stderr).toContain(`report: ${report}`);
  const data = JSON.parse(readFileSync(report, 'utf8'));
  expect(data.stats.blocks.count).toBeGreaterThanOrEqual(1);
  expect(data.topBlockers.map((blocker: { site: string }) => blocker.site)).toContainEqual(expect.stringContaining('compressBatch'));
  const batch = data.blocks.find((block: { site: string }) => block.site.includes('compressBatch'));
  expect(batch.duration).toBeGreaterThanOrEqual(300);
}

describe('the CLI writes the summary and the report however the app ends', () => {
  it('on a normal exit: exit code 0', async () => {
    const { cli, report } = exportJob('exit', 'exit');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expectBlockReported(cli.stderr, report);
    expect(cli.stderr.match(/loopguard summary/g)).toHaveLength(1);
  });

  it('on an uncaught exception: exit code 1, after Node printed the error', async () => {
    const { cli, report } = exportJob('throw', 'throw');
    expect(await cli.exited).toEqual({ code: 1, signal: null });
    expect(cli.stderr).toContain('Error: export target went away');
    expectBlockReported(cli.stderr, report);
  });

  it('on SIGHUP (the app has no handler): the CLI dies by SIGHUP too', async () => {
    const { cli, report } = exportJob('hup', 'wait');
    await cli.nextJson(); // exported
    await cli.stderrIncludes('at compressBatch ('); // the app has reported the block
    cli.child.kill('SIGHUP');
    expect(await cli.exited).toEqual({ code: null, signal: 'SIGHUP' });
    expectBlockReported(cli.stderr, report);
  });

  it('on SIGKILL of the app itself', async () => {
    const { cli, report } = exportJob('kill', 'wait');
    const { pid } = await cli.nextJson<{ pid: number }>();
    await cli.stderrIncludes('at compressBatch (');
    process.kill(pid, 'SIGKILL');
    expect(await cli.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expectBlockReported(cli.stderr, report);
  });

  it('when the app runs out of memory: exit code 134, as a shell reports SIGABRT', async () => {
    const { cli, report } = exportJob('oom', 'oom', ['--max-old-space-size=32']);
    expect(await cli.exited).toEqual({ code: 134, signal: null });
    expect(cli.stderr).toContain('heap out of memory');
    expectBlockReported(cli.stderr, report);
  });
});

describe('the stream from the app to the CLI', () => {
  it('is named to the app alone: register removes its variable, so processes the app starts never see it', async () => {
    const cli = run(node, [cliPath, '--no-summary', '--', node, fixture('spawns-child.mjs')], cleanEnv());
    expect(await cli.nextJson()).toEqual({ app: null, child: 'undefined' });
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  });

  it('is never written to descriptors that are not pipes: register then prints its own summary', async () => {
    const file = join(dir, 'not-a-pipe.txt');
    const fd = openSync(file, 'w');
    const app = spawn(node, ['--import', registerEsm, fixture('exit-code.mjs')], {
      env: cleanEnv({ LOOPGUARD_STREAM_FDS: '3,4' }),
      stdio: ['ignore', 'ignore', 'pipe', fd, fd],
    });
    closeSync(fd);
    let stderr = '';
    app.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const [code] = await new Promise<[number | null]>((resolve) => app.on('close', (exitCode) => resolve([exitCode])));
    expect(code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('');
    expect(stderr).toContain('loopguard summary: ');
  });
});
