// The watchdog's hang report goes straight to fd 2: what the app and its clients named (a job,
// a path) must reach the terminal escaped, in the pretty form and in the JSON line alike.
import { afterEach, describe, expect, it } from 'vitest';
import { runFixture, type Fixture } from './fixture.js';

let fixture: Fixture | undefined;
afterEach(() => {
  if (fixture?.child.exitCode === null && fixture.child.signalCode === null) fixture.child.kill('SIGKILL');
  fixture = undefined;
});

// C0 but the report's own line breaks, DEL, C1, bidi controls, line separators.
// eslint-disable-next-line no-control-regex -- control characters are what this test looks for
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

function hangReport(current: Fixture, match: (text: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (match(current.stderr())) resolve(current.stderr());
    };
    current.child.stderr?.on('data', check);
    check();
  });
}

describe('the hang report of a job named by a client', () => {
  it('escapes control and bidi characters in the pretty report', async () => {
    fixture = runFixture('hang-import.mjs', { args: ['pretty'] });
    const text = await hangReport(fixture, (stderr) => /event loop hung.*\n(.*\n)*\s+at spinForever/.test(stderr));
    const report = text.slice(text.indexOf('loopguard: event loop hung'));
    expect(report).not.toMatch(UNSAFE);
    expect(report).toContain('in import report\\x1B[2J\\x1B]0;pwned\\x07\\r\\u202Egpj.exe (pid');
  });

  it('writes a JSON line with no raw bidi override, which parses back to the name', async () => {
    fixture = runFixture('hang-import.mjs', { args: ['json'] });
    const text = await hangReport(fixture, (stderr) => stderr.includes('"kind":"hang"') && stderr.includes('spinForever'));
    const line = text.split('\n').find((candidate) => candidate.includes('"kind":"hang"')) ?? '';
    expect(line).not.toMatch(UNSAFE);
    const record = JSON.parse(line) as { context?: { name?: string } };
    expect(record.context?.name).toBe('import report\u001b[2J\u001b]0;pwned\u0007\r\u202egpj.exe');
  });
});
