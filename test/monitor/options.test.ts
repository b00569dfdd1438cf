import { afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionRangeError, InvalidOptionTypeError, startMonitor, type MonitorOptions } from 'loopguard';
import { expectNoBlock } from 'loopguard/testing';

// Options are checked before anything starts; a bad one must leave no monitor behind.
afterEach(async () => {
  const running = (globalThis as Record<symbol, { stop(): Promise<void> } | undefined>)[Symbol.for('loopguard.v1.monitor')];
  await running?.stop();
});

function rejects(options: unknown): Error {
  try {
    startMonitor(options as MonitorOptions);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`startMonitor accepted ${String(options)}`);
}

describe('startMonitor option validation', () => {
  it.each([
    [{ threshold: '100' }, InvalidOptionTypeError, /threshold must be a number >= 1, got `"100"` \(string\)/],
    [{ threshold: 0 }, InvalidOptionRangeError, /threshold must be a number >= 1, got `0`/],
    [{ threshold: Number.NaN }, InvalidOptionTypeError, /threshold must be a number >= 1, got `NaN`/],
    [{ threshold: Infinity }, InvalidOptionRangeError, /threshold/],
    [{ hangTimeout: -1 }, InvalidOptionRangeError, /hangTimeout must be a number >= 0/],
    [{ threshold: 100, hangTimeout: 50 }, InvalidOptionRangeError, /hangTimeout must be 0 or a number > threshold \(100\), got `50`/],
    [{ threshold: 6000, hangTimeout: 6000 }, InvalidOptionRangeError, /hangTimeout must be 0 or a number > threshold \(6000\), got `6000`/],
    [{ nativeCalls: 'no' }, InvalidOptionTypeError, /nativeCalls must be a boolean, got `"no"`/],
    [{ nativeCalls: false, syncCalls: 'warn' }, InvalidOptionRangeError, /nativeCalls: false cannot be combined with syncCalls 'warn'/],
    [{ libuv: 'on' }, InvalidOptionTypeError, /libuv must be a boolean, got `"on"`/],
    [{ libuv: 0 }, InvalidOptionTypeError, /libuv must be a boolean, got `0`/],
    [{ dedupe: -5 }, InvalidOptionRangeError, /dedupe must be a number >= 0, got `-5`/],
    [{ stacks: 'yes' }, InvalidOptionTypeError, /stacks must be a boolean, got `"yes"`/],
    [{ sourceMaps: 1 }, InvalidOptionTypeError, /sourceMaps must be a boolean, got `1`/],
    [{ http: null }, InvalidOptionTypeError, /http must be a boolean, got `null`/],
    [{ log: 'text' }, InvalidOptionTypeError, /log must be one of 'pretty', 'json', false or a logger/],
    [{ log: true }, InvalidOptionTypeError, /log must be one of/],
    [{ log: { info() {} } }, InvalidOptionTypeError, /log must be one of/],
    [{ syncCalls: true }, InvalidOptionTypeError, /syncCalls must be one of 'warn', 'throw', false, got `true`/],
    [{ ignore: 'spinFor' }, InvalidOptionTypeError, /ignore must be an object, got `"spinFor"`/],
    [{ ignore: { functions: 'spinFor' } }, InvalidOptionTypeError, /ignore\.functions must be an array/],
    [{ ignore: { files: [42] } }, InvalidOptionTypeError, /ignore\.files\[0\] must be a string or a RegExp, got `42`/],
    [{ ignore: { stacks: [] } }, InvalidOptionTypeError, /ignore has an unknown option `stacks`/],
    [{ onBlock: 'log' }, InvalidOptionTypeError, /onBlock must be a function/],
    [{ treshold: 100 }, InvalidOptionTypeError, /options has an unknown option `treshold`/],
    ['fast', InvalidOptionTypeError, /options must be an object/],
  ])('refuses %o', (options, type, message) => {
    const error = rejects(options);
    expect(error).toBeInstanceOf(type);
    expect(error.message).toMatch(message);
    expect((error as { code?: string }).code).toBe('ERR_LOOPGUARD_INVALID_OPTION');
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('loopguard.v1.monitor')]).toBeUndefined();
  });

  it('accepts every documented option', async () => {
    const monitor = startMonitor({
      threshold: 50,
      stacks: true,
      hangTimeout: 0,
      sourceMaps: false,
      log: console,
      dedupe: 0,
      http: false,
      syncCalls: false,
      nativeCalls: false,
      ignore: { functions: ['a', /b/], files: [/node_modules/], routes: ['/health'] },
      onBlock: () => undefined,
    });
    expect(monitor.threshold).toBe(50);
    await monitor.stop();
  });

  it('accepts a threshold above 5000 ms with hangTimeout unset: the hang timeout follows the threshold', async () => {
    const monitor = startMonitor({ threshold: 6000, log: false });
    expect(monitor.threshold).toBe(6000);
    await monitor.stop();
  });

  it('accepts hangTimeout 0 with any threshold', async () => {
    const monitor = startMonitor({ threshold: 6000, hangTimeout: 0, log: false });
    await monitor.stop();
  });

  it('refuses a listener for an unknown event or a non-function', async () => {
    const monitor = startMonitor({ log: false });
    expect(() => monitor.on('stall' as 'block', () => undefined)).toThrow(InvalidOptionTypeError);
    expect(() => monitor.on('block', 'x' as never)).toThrow(/listener must be a function/);
    await monitor.stop();
  });

  it('refuses a topBlockers limit that is not a whole number >= 0, naming it and the value', async () => {
    const monitor = startMonitor({ log: false });
    expect(() => monitor.topBlockers('5' as never)).toThrow('limit must be an integer >= 0 (or Infinity), got `"5"` (string)');
    expect(() => monitor.topBlockers(-1)).toThrow(InvalidOptionRangeError);
    expect(monitor.topBlockers(Infinity)).toEqual([]);
    await monitor.stop();
  });
});

describe('expectNoBlock option validation', () => {
  it('rejects a non-function and a bad threshold', async () => {
    await expect(expectNoBlock('x' as never)).rejects.toThrow(/fn must be a function/);
    await expect(expectNoBlock(() => undefined, { threshold: 0 })).rejects.toThrow(InvalidOptionRangeError);
    await expect(expectNoBlock(() => undefined, { limit: 5 } as never)).rejects.toThrow(/unknown option `limit`/);
  });
});
