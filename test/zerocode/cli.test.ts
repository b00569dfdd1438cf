// The `loopguard` bin as users run it: node dist/cli.js [options] -- node app.
import { describe, expect, it } from 'vitest';
import { cleanEnv, cliPath, fixture, run } from './helpers.js';

const node = process.execPath;

describe('loopguard command line (process)', () => {
  it('exits with the exit code of the command, which ran with the preload', async () => {
    const cli = run(node, [cliPath, '--', node, fixture('exit-code.mjs'), '3'], cleanEnv());
    expect(await cli.nextJson()).toEqual({ preloaded: true });
    expect(await cli.exited).toEqual({ code: 3, signal: null });
  });

  it('runs as npx loopguard through the package bin', async () => {
    const npx = run('npx', ['--no-install', 'loopguard', '--', node, fixture('exit-code.mjs'), '4'], cleanEnv());
    expect(await npx.nextJson()).toEqual({ preloaded: true });
    expect(await npx.exited).toEqual({ code: 4, signal: null });
  });

  it('prints the help and exits 0', async () => {
    const cli = run(node, [cliPath, '--help'], cleanEnv());
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.stdout).toContain('Usage: loopguard [options] -- <command> [args...]');
    expect(cli.stdout).toContain('--report <file>');
  });

  it('refuses a bad flag with the usage and exit code 2, without running the command', async () => {
    const cli = run(node, [cliPath, '--threshold', 'fast', '--', node, fixture('exit-code.mjs')], cleanEnv());
    expect(await cli.exited).toEqual({ code: 2, signal: null });
    expect(cli.stderr).toContain('loopguard: --threshold must be a number of ms >= 1, got "fast"');
    expect(cli.stderr).toContain('Usage: loopguard');
    expect(cli.stdout).toBe('');
  });

  it('says when the command does not exist and exits 127', async () => {
    const cli = run(node, [cliPath, '--', 'no-such-command-loopguard'], cleanEnv());
    expect(await cli.exited).toEqual({ code: 127, signal: null });
    expect(cli.stderr).toContain('loopguard: command not found: no-such-command-loopguard');
  });

  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)(
    'passes %s on to the command once and exits with the code the command chose',
    async (signal) => {
      const cli = run(node, [cliPath, '--', node, fixture('graceful.mjs')], cleanEnv());
      await cli.nextJson(); // listening
      cli.child.kill(signal);
      expect(await cli.nextJson()).toEqual({ signal, count: 1 });
      expect(await cli.exited).toEqual({ code: 0, signal: null });
      expect(cli.stdout).not.toContain('"count":2');
    },
  );

  it('dies by the signal that killed a command with no handler for it, after the summary', async () => {
    const cli = run(node, [cliPath, '--', node, fixture('no-handler.mjs')], cleanEnv());
    await cli.nextJson();
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(cli.stderr).toContain('loopguard summary: ');
  });
});
