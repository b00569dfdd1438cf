// The `loopguard` bin as users run it: node dist/cli.js [options] -- node app.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cleanEnv, cliPath, fixture, run } from './helpers.js';

const node = process.execPath;
// util-linux's `script` runs a command on a pseudo-terminal: Ctrl-C written to it reaches the
// terminal's whole foreground process group, as it does for a user at a shell.
const hasScript = spawnSync('sh', ['-c', 'command -v script'], { encoding: 'utf8' }).status === 0;
if (!hasScript) console.warn('skipping the terminal Ctrl-C test: util-linux `script` is not installed');

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

  it('refuses a bad flag value with one line and exit code 9, as register does, without running the command', async () => {
    const cli = run(node, [cliPath, '--threshold', 'fast', '--', node, fixture('exit-code.mjs')], cleanEnv());
    expect(await cli.exited).toEqual({ code: 9, signal: null });
    expect(cli.stderr).toBe('loopguard: --threshold must be a number of ms >= 1, got "fast"\n');
    expect(cli.stdout).toBe('');
  });

  it('refuses an unknown flag with the usage and exit code 2, without running the command', async () => {
    const cli = run(node, [cliPath, '--treshold', '50', '--', node, fixture('exit-code.mjs')], cleanEnv());
    expect(await cli.exited).toEqual({ code: 2, signal: null });
    expect(cli.stderr).toContain('loopguard: unknown option --treshold');
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

  it.skipIf(!hasScript)('delivers Ctrl-C on a terminal to the command once, not a second time', async () => {
    // `exec`: script runs the command through $SHELL (or /bin/sh when unset); dash does not
    // replace itself with a lone command, and a shell left waiting would die by the Ctrl-C.
    const command = `exec '${node}' '${cliPath}' -- '${node}' '${fixture('count-signals.mjs')}'`;
    const terminal = run('script', ['-qfec', command, '/dev/null'], cleanEnv(), { stdin: 'pipe' });
    await terminal.nextJson(); // listening
    terminal.child.stdin!.write('\x03');
    expect(await terminal.exited).toEqual({ code: 0, signal: null });
    expect(terminal.stdout).toContain('{"signal":"SIGINT","count":1}');
    expect(terminal.stdout).not.toContain('"count":2');
  });

  it('dies by the signal that killed a command with no handler for it, after the summary', async () => {
    const cli = run(node, [cliPath, '--', node, fixture('no-handler.mjs')], cleanEnv());
    await cli.nextJson();
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(cli.stderr).toContain('loopguard summary: ');
  });
});
