import { describe, expect, it } from 'vitest';
import { parseCliArgs, UsageError, WAIT_FOR_WATCHDOG_URL, withPreload } from '../../src/zero-code/cli-args.js';

describe('loopguard command line', () => {
  it('turns the flags into LOOPGUARD_* variables and keeps the command after --', () => {
    expect(
      parseCliArgs(
        ['--threshold', '50', '--sync-calls=warn', '--report', 'out/r.html', '--hang-timeout', '0', '--', 'node', 'app.js', '--port', '3000'],
        '/work/here',
      ),
    ).toEqual({
      action: 'run',
      command: ['node', 'app.js', '--port', '3000'],
      env: {
        LOOPGUARD_THRESHOLD: '50',
        LOOPGUARD_SYNC_CALLS: 'warn',
        LOOPGUARD_REPORT: '/work/here/out/r.html',
        LOOPGUARD_HANG_TIMEOUT: '0',
      },
    });
  });

  it('takes the command without -- too', () => {
    expect(parseCliArgs(['--log', 'json', 'node', 'app.js'])).toMatchObject({ command: ['node', 'app.js'], env: { LOOPGUARD_LOG: 'json' } });
  });

  it('leaves the command\'s own flags to the command, with or without --', () => {
    expect(parseCliArgs(['--threshold=50', 'node', 'app.js', '--port', '3000', '-v'])).toMatchObject({
      command: ['node', 'app.js', '--port', '3000', '-v'],
      env: { LOOPGUARD_THRESHOLD: '50' },
    });
    expect(parseCliArgs(['--', 'node', '--threshold', '1'])).toMatchObject({ command: ['node', '--threshold', '1'], env: {} });
  });

  it('reads the switches without values', () => {
    expect(parseCliArgs(['--track-handles', '--no-summary', '--exit-timeout', '500', '--', 'node', 'a.js'])).toMatchObject({
      env: { LOOPGUARD_TRACK_HANDLES: 'true', LOOPGUARD_SUMMARY: 'false', LOOPGUARD_EXIT_TIMEOUT: '500' },
    });
  });

  it('answers --help and --version before looking for a command', () => {
    expect(parseCliArgs(['--help'])).toEqual({ action: 'help' });
    expect(parseCliArgs(['-v'])).toEqual({ action: 'version' });
  });

  // A bad value is a bad setting, refused like a bad LOOPGUARD_* variable (one line, exit 9).
  it.each([
    [['--threshold', 'soon', '--', 'node', 'a.js'], /--threshold must be a number of ms >= 1, got "soon"/],
    [['--sync-calls', 'loud', '--', 'node', 'a.js'], /--sync-calls must be one of 'warn', 'throw', 'false'/],
    [['--report', 'r.pdf', '--', 'node', 'a.js'], /--report must be a file name ending in \.html or \.json/],
  ])('refuses %j with the option error register would give', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(message);
    expect(() => parseCliArgs(argv)).toThrow(expect.objectContaining({ code: 'ERR_LOOPGUARD_INVALID_OPTION' }));
  });

  it.each([
    [['--threshold'], /--threshold needs a value/],
    [['--threshold='], /--threshold needs a value/],
    [['--track-handles=yes', 'node', 'a.js'], /--track-handles takes no value/],
    [['--threshold', '--', 'node', 'a.js'], /--threshold needs a value/],
    [['--verbose', '--', 'node', 'a.js'], /unknown option --verbose/],
    [['--threshold', '50'], /no command given/],
  ])('refuses %j with a usage error', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(UsageError);
    expect(() => parseCliArgs(argv)).toThrow(message);
  });

  it('appends the preload to the NODE_OPTIONS the user already has', () => {
    const preload = `--import file:///p/register.js --import ${WAIT_FOR_WATCHDOG_URL}`;
    expect(withPreload(undefined, 'file:///p/register.js')).toBe(preload);
    expect(withPreload('--max-old-space-size=4096', 'file:///p/register.js')).toBe(`--max-old-space-size=4096 ${preload}`);
    // NODE_OPTIONS splits on spaces and reads quotes: the data: URL must contain neither.
    expect(WAIT_FOR_WATCHDOG_URL).not.toMatch(/[\s"'\\]/);
  });
});
