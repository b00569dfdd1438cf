import { describe, expect, it } from 'vitest';
import { closestName, readSettings, unknownVariableWarnings } from '../../src/zero-code/settings.js';

describe('LOOPGUARD_* variables', () => {
  it('gives the defaults when none is set', () => {
    expect(readSettings({})).toEqual({ exitTimeout: 3000, trackHandles: false, summary: true });
  });

  it('reads every variable', () => {
    expect(
      readSettings({
        LOOPGUARD_THRESHOLD: '50',
        LOOPGUARD_LOG: 'json',
        LOOPGUARD_SYNC_CALLS: 'warn',
        LOOPGUARD_REPORT: 'out/r.HTML',
        LOOPGUARD_HANG_TIMEOUT: '0',
        LOOPGUARD_EXIT_TIMEOUT: '250',
        LOOPGUARD_TRACK_HANDLES: 'true',
        LOOPGUARD_SUMMARY: 'false',
      }),
    ).toEqual({
      threshold: 50,
      log: 'json',
      syncCalls: 'warn',
      report: { path: 'out/r.HTML', format: 'html' },
      hangTimeout: 0,
      exitTimeout: 250,
      trackHandles: true,
      summary: false,
    });
  });

  it('accepts false for LOOPGUARD_LOG and LOOPGUARD_SYNC_CALLS', () => {
    expect(readSettings({ LOOPGUARD_LOG: 'false', LOOPGUARD_SYNC_CALLS: 'off' })).toMatchObject({ log: false, syncCalls: false });
  });

  it('picks the JSON format from a .json report name', () => {
    expect(readSettings({ LOOPGUARD_REPORT: 'r.json' }).report).toEqual({ path: 'r.json', format: 'json' });
  });

  it.each([
    ['LOOPGUARD_THRESHOLD', 'fast', /LOOPGUARD_THRESHOLD must be a number of ms >= 1, got "fast"/],
    ['LOOPGUARD_THRESHOLD', '0', /LOOPGUARD_THRESHOLD must be a number of ms >= 1, got "0"/],
    ['LOOPGUARD_THRESHOLD', '-5', /LOOPGUARD_THRESHOLD must be a number/],
    ['LOOPGUARD_HANG_TIMEOUT', '5s', /LOOPGUARD_HANG_TIMEOUT must be a number of ms >= 0, got "5s"/],
    ['LOOPGUARD_EXIT_TIMEOUT', 'never', /LOOPGUARD_EXIT_TIMEOUT must be a number/],
    ['LOOPGUARD_LOG', 'loud', /LOOPGUARD_LOG must be one of 'pretty', 'json', 'false', got "loud"/],
    ['LOOPGUARD_SYNC_CALLS', 'error', /LOOPGUARD_SYNC_CALLS must be one of 'warn', 'throw', 'false', got "error"/],
    ['LOOPGUARD_REPORT', 'report.txt', /LOOPGUARD_REPORT must be a file name ending in \.html or \.json, got "report.txt"/],
    ['LOOPGUARD_TRACK_HANDLES', 'maybe', /LOOPGUARD_TRACK_HANDLES must be 'true' or 'false', got "maybe"/],
  ])('refuses %s=%s with a message naming the variable', (name, value, message) => {
    expect(() => readSettings({ [name]: value })).toThrow(message);
  });

  it('throws option errors with the stable code', () => {
    let error: unknown;
    try {
      readSettings({ LOOPGUARD_THRESHOLD: 'x' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect((error as { code?: string }).code).toBe('ERR_LOOPGUARD_INVALID_OPTION');
  });

  it('refuses a hang timeout below the threshold, naming both variables', () => {
    expect(() => readSettings({ LOOPGUARD_THRESHOLD: '6000', LOOPGUARD_HANG_TIMEOUT: '5000' })).toThrow(
      'LOOPGUARD_HANG_TIMEOUT must be 0 or a number of ms > LOOPGUARD_THRESHOLD (6000), got "5000"',
    );
    expect(() => readSettings({ LOOPGUARD_THRESHOLD: '6000', LOOPGUARD_HANG_TIMEOUT: '6000' })).toThrow(/got "6000"/);
    expect(readSettings({ LOOPGUARD_THRESHOLD: '6000', LOOPGUARD_HANG_TIMEOUT: '0' }).hangTimeout).toBe(0);
  });

  it('names a value by the flag it came from when asked to (the CLI)', () => {
    expect(() => readSettings({ LOOPGUARD_LOG: 'loud' }, (name) => (name === 'LOOPGUARD_LOG' ? '--log' : name))).toThrow(
      /^--log must be one of/,
    );
  });
});

describe('misspelt LOOPGUARD_* variables', () => {
  it('warns once per unknown variable, naming the closest one loopguard reads', () => {
    expect(unknownVariableWarnings({ LOOPGUARD_THRESHHOLD: '50', LOOPGUARD_REPROT: 'r.html', PATH: '/bin' })).toEqual([
      'loopguard: ignoring LOOPGUARD_THRESHHOLD: not a loopguard variable; did you mean LOOPGUARD_THRESHOLD?',
      'loopguard: ignoring LOOPGUARD_REPROT: not a loopguard variable; did you mean LOOPGUARD_REPORT?',
    ]);
  });

  it('suggests nothing for a name that is no near miss, and says nothing about the ones it reads', () => {
    expect(unknownVariableWarnings({ LOOPGUARD_COLOUR_SCHEME: 'dark', LOOPGUARD_LOG: 'json' })).toEqual([
      'loopguard: ignoring LOOPGUARD_COLOUR_SCHEME: not a loopguard variable (see npx loopguard --help)',
    ]);
    expect(unknownVariableWarnings({ LOOPGUARD_STREAM_FDS: '3,4' })).toEqual([]);
  });

  it('measures closeness by edit distance, case-insensitively', () => {
    expect(closestName('LOOPGUARD_HANG_TIMOUT', ['LOOPGUARD_HANG_TIMEOUT', 'LOOPGUARD_EXIT_TIMEOUT'])).toBe('LOOPGUARD_HANG_TIMEOUT');
    expect(closestName('LOOPGUARD_threshold', ['LOOPGUARD_THRESHOLD'])).toBe('LOOPGUARD_THRESHOLD');
  });
});
