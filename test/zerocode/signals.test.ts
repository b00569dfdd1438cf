// loopguard never changes how an app dies: the same signal and status as without it, for an
// app stuck in an endless loop, for one whose libraries re-raise signals the way signal-exit
// does, and for a job killed during its last block. Each run is compared with the same app run
// bare, in the same test.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanEnv, cliPath, fixture, get, registerCjs, registerEsm, killLeftovers, run, type Running } from './helpers.js';

const node = process.execPath;
const waitReady = fixture('wait-ready.mjs');
const dir = mkdtempSync(join(tmpdir(), 'loopguard-signals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// A failing test must not leave a stuck app spinning behind it.
afterEach(killLeftovers);

const hasScript = spawnSync('sh', ['-c', 'command -v script'], { encoding: 'utf8' }).status === 0;
if (!hasScript) console.warn('skipping the terminal Ctrl-C tests: util-linux `script` is not installed');

type Way = 'bare' | 'register' | 'cli';

// A low threshold and hang timeout, so the watchdog writes its hang report soon: the tests wait
// for its stack line, which says the watchdog has the stack of the block under way (and has
// streamed it to the CLI: it writes the stream right after the report).
const REGISTER_ENV = { LOOPGUARD_THRESHOLD: '50', LOOPGUARD_HANG_TIMEOUT: '300' };
const CLI_FLAGS = ['--threshold', '50', '--hang-timeout', '300'];

function command(way: Way, script: string, extraFlags: readonly string[] = []): string[] {
  if (way === 'bare') return [node, script];
  if (way === 'register') return [node, '--import', registerEsm, '--import', waitReady, script];
  return [node, cliPath, ...CLI_FLAGS, ...extraFlags, '--', node, script];
}

function start(way: Way, script: string, extraFlags: readonly string[] = []): Running {
  const [file, ...args] = command(way, script, extraFlags) as [string, ...string[]];
  return run(file, args, cleanEnv(way === 'register' ? REGISTER_ENV : {}));
}

/** Ask the search service to reindex: it never comes back. */
async function makeStuck(app: Running, way: Way): Promise<void> {
  const { port } = await app.nextJson<{ port: number }>();
  get(port, '/reindex').catch(() => undefined); // the connection dies with the process
  await app.nextJson(); // {"reindexing":3}: buildIndex() runs now
  if (way !== 'bare') await app.stderrIncludes('at buildIndex (');
}

describe('an app stuck in an endless loop', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('dies on %s under register exactly as bare', async (signal) => {
    const bare = start('bare', fixture('stuck-server.mjs'));
    await makeStuck(bare, 'bare');
    bare.child.kill(signal);
    const bareEnd = await bare.exited;
    expect(bareEnd).toEqual({ code: null, signal });

    const app = start('register', fixture('stuck-server.mjs'));
    await makeStuck(app, 'register');
    app.child.kill(signal);
    expect(await app.exited).toEqual(bareEnd);
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'dies on %s sent to the CLI exactly as bare, and the summary names the spinning function',
    async (signal) => {
      const bare = start('bare', fixture('stuck-server.mjs'));
      await makeStuck(bare, 'bare');
      bare.child.kill(signal);
      const bareEnd = await bare.exited;

      // SIGINT not on a terminal: the CLI passes it on, like SIGTERM.
      const cli = start('cli', fixture('stuck-server.mjs'));
      await makeStuck(cli, 'cli');
      cli.child.kill(signal);
      expect(await cli.exited).toEqual(bareEnd);
      expect(cli.stderr).toMatch(/top blockers\n\s+site[^\n]*\n(\s+[^\n]*\n)*\s+buildIndex \(.*index-builder\.mjs:\d+\)/);
    },
  );

  it.skipIf(!hasScript)('dies on Ctrl-C in a terminal under register and the CLI with the status it has bare', async () => {
    const inTerminal = async (way: Way) => {
      const line = command(way, fixture('stuck-server.mjs'))
        .map((part) => `'${part}'`)
        .join(' ');
      // `exec`: see cli.test.ts. Ctrl-C written to the terminal reaches its whole foreground group.
      const terminal = run('script', ['-qfec', `exec ${line}`, '/dev/null'], cleanEnv(way === 'register' ? REGISTER_ENV : {}), {
        stdin: 'pipe',
      });
      const { port } = await terminal.nextJson<{ port: number }>();
      get(port, '/reindex').catch(() => undefined);
      await terminal.stdoutIncludes('"reindexing"');
      if (way !== 'bare') await terminal.stdoutIncludes('at buildIndex (');
      terminal.child.stdin!.write('\x03');
      return { end: await terminal.exited, output: terminal.stdout };
    };
    const bare = await inTerminal('bare');
    expect(bare.end.code).toBe(130); // script's status for a command killed by SIGINT
    expect((await inTerminal('register')).end).toEqual(bare.end);
    const cli = await inTerminal('cli');
    expect(cli.end).toEqual(bare.end);
    expect(cli.output).toMatch(/buildIndex \(.*index-builder\.mjs:\d+\)/);
    expect(cli.output).toContain('loopguard summary: ');
  });
});

describe('an app whose libraries handle signals the way signal-exit does', () => {
  const signalExit = (() => {
    try {
      return createRequire(fixture('locking-server.cjs')).resolve('signal-exit');
    } catch {
      return undefined;
    }
  })();

  it('has signal-exit 4 installed (the exact-pinned devDependency these tests use)', () => {
    expect(signalExit, 'add the devDependency: npm install --save-dev --save-exact signal-exit@4.1.0').toBeDefined();
  });

  describe.each(['v4', 'v3'] as const)('signal-exit %s', (flavour) => {
    it.skipIf(flavour === 'v4' && signalExit === undefined).each(['SIGTERM', 'SIGINT'] as const)(
      'exits on %s under register as bare, after its exit handlers ran',
      async (signal) => {
        const end = async (args: string[], env: NodeJS.ProcessEnv) => {
          const app = run(node, [...args, fixture('locking-server.cjs'), flavour], env);
          await app.nextJson(); // listening
          app.child.kill(signal);
          return { end: await app.exited, unlocked: app.stdout.split('\n').filter((line) => line.includes('unlocked')) };
        };
        const bare = await end([], cleanEnv());
        expect(bare.end).toEqual({ code: null, signal });
        expect(bare.unlocked).toEqual([`{"unlocked":"server.lock","signal":"${signal}"}`]);
        const underRegister = await end(['-r', registerCjs], cleanEnv({ LOOPGUARD_LOG: 'false' }));
        expect(underRegister).toEqual(bare);
      },
    );
  });
});

describe('SIGTERM during the last block of a job', () => {
  it('ends it with the signal (exit status 143) under register, as bare', async () => {
    const bare = start('bare', fixture('last-block.mjs'));
    await bare.nextJson();
    bare.child.kill('SIGTERM');
    const bareEnd = await bare.exited;
    expect(bareEnd).toEqual({ code: null, signal: 'SIGTERM' });

    const app = start('register', fixture('last-block.mjs'));
    await app.nextJson();
    await app.stderrIncludes('at buildYearlyTotals (');
    app.child.kill('SIGTERM');
    expect(await app.exited).toEqual(bareEnd);
    expect(app.stdout).not.toContain('"done"');
  });

  it('ends it with the signal under the CLI, whose summary and report count that block', async () => {
    const report = join(dir, 'last-block.json');
    const cli = start('cli', fixture('last-block.mjs'), ['--report', report]);
    await cli.nextJson();
    await cli.stderrIncludes('at buildYearlyTotals (');
    cli.child.kill('SIGTERM');
    expect(await cli.exited, cli.stderr).toEqual({ code: null, signal: 'SIGTERM' });
    expect(cli.stdout).not.toContain('"done"');
    expect(cli.stderr, cli.stderr).toMatch(/top blockers\n\s+site[^\n]*\n(\s+[^\n]*\n)*\s+buildYearlyTotals \(.*last-block\.mjs:\d+\)/);
    const data = JSON.parse(readFileSync(report, 'utf8'));
    // The last block itself, counted though the app never finished it (a busy host may add others).
    const last = data.blocks.filter((block: { site: string }) => block.site.includes('buildYearlyTotals'));
    expect(last, JSON.stringify(data.blocks)).toHaveLength(1);
    expect(last[0].kind).toBe('hang');
    expect(last[0].duration).toBeGreaterThanOrEqual(300);
    expect(data.stats.blocks.count).toBeGreaterThanOrEqual(1);
  });
});
