// Under register and the CLI a bad setting stops the run with one line and exit code 9 (Node's
// code for an invalid argument), never a stack trace; a misspelt variable is warned about; a
// report that cannot be written still leaves the summary, which says why.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, cliPath, fixture, registerEsm, run } from './helpers.js';

const node = process.execPath;
const dir = mkdtempSync(join(tmpdir(), 'loopguard-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A report path under a regular file: no directory can be made there, not even by root. */
function unwritableReport(name: string): string {
  const file = join(dir, `${name}-not-a-directory`);
  writeFileSync(file, '');
  return join(file, 'report.json');
}

describe('bad settings', () => {
  it('register: a hang timeout below the threshold is one line and exit 9, before the app runs', async () => {
    const env = cleanEnv({ LOOPGUARD_THRESHOLD: '6000', LOOPGUARD_HANG_TIMEOUT: '5000' });
    const app = run(node, ['--import', registerEsm, fixture('exit-code.mjs')], env);
    expect(await app.exited).toEqual({ code: 9, signal: null });
    expect(app.stderr).toBe(
      'loopguard: LOOPGUARD_HANG_TIMEOUT must be 0 or a number of ms > LOOPGUARD_THRESHOLD (6000), got "5000"\n',
    );
    expect(app.stdout).toBe('');
  });

  it('the CLI: the same check on its flags, naming them, before it starts the command', async () => {
    const cli = run(node, [cliPath, '--threshold', '6000', '--hang-timeout', '5000', '--', node, fixture('exit-code.mjs')], cleanEnv());
    expect(await cli.exited).toEqual({ code: 9, signal: null });
    expect(cli.stderr).toBe('loopguard: --hang-timeout must be 0 or a number of ms > --threshold (6000), got "5000"\n');
    expect(cli.stdout).toBe('');
  });

  it('the CLI: a bad LOOPGUARD_* variable in its environment is one line and exit 9, before it starts the command', async () => {
    const cli = run(node, [cliPath, '--', node, fixture('exit-code.mjs')], cleanEnv({ LOOPGUARD_LOG: 'loud' }));
    expect(await cli.exited).toEqual({ code: 9, signal: null });
    expect(cli.stderr).toBe('loopguard: LOOPGUARD_LOG must be one of \'pretty\', \'json\', \'false\', got "loud"\n');
    expect(cli.stdout).toBe('');
  });
});

describe('a misspelt LOOPGUARD_* variable', () => {
  it('register warns in one line naming the closest variable, and the app runs', async () => {
    const app = run(node, ['--import', registerEsm, fixture('exit-code.mjs')], cleanEnv({ LOOPGUARD_THRESHHOLD: '50' }));
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.stdout).toContain('{"preloaded":true}');
    expect(app.stderr.split('\n')[0]).toBe(
      'loopguard: ignoring LOOPGUARD_THRESHHOLD: not a loopguard variable; did you mean LOOPGUARD_THRESHOLD?',
    );
  });

  it('the CLI warns once (the app under it does not warn again)', async () => {
    const cli = run(node, [cliPath, '--', node, fixture('exit-code.mjs')], cleanEnv({ LOOPGUARD_THRESHHOLD: '50' }));
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.stderr.match(/did you mean LOOPGUARD_THRESHOLD\?/g)).toHaveLength(1);
  });
});

describe('a report path that cannot be written', () => {
  it('register still prints the summary, saying why the report is missing', async () => {
    const report = unwritableReport('register');
    const app = run(node, ['--import', registerEsm, fixture('exit-code.mjs')], cleanEnv({ LOOPGUARD_REPORT: report }));
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.stderr).toContain('loopguard summary: ');
    expect(app.stderr).toContain(`report: not written to ${report}: EEXIST: file already exists, mkdir`);
  });

  it('the CLI still prints the summary, saying why the report is missing', async () => {
    const report = unwritableReport('cli');
    const cli = run(node, [cliPath, '--report', report, '--', node, fixture('exit-code.mjs')], cleanEnv());
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.stderr).toContain('loopguard summary: ');
    expect(cli.stderr).toContain(`report: not written to ${report}: EEXIST: file already exists, mkdir`);
  });
});
