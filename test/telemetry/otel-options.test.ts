/**
 * otelMetrics() option validation, in this process: only @opentelemetry/api is needed (it runs
 * on every supported Node), with a stand-in monitor so that no monitor is started.
 */
import { describe, expect, it } from 'vitest';
import { otelMetrics } from 'loopguard/otel';
import type { Monitor } from 'loopguard';

const monitor = { on: () => monitor, off: () => monitor } as unknown as Monitor;

describe('otelMetrics() options', () => {
  const cases: Array<[string, unknown, RegExp, 'TypeError' | 'RangeError']> = [
    ['options', 42, /^options must be an object, got `42` \(number\)/, 'TypeError'],
    ['an unknown option', { meterprovider: {} }, /unknown option `meterprovider`/, 'TypeError'],
    ['meterProvider', { meterProvider: {} }, /^meterProvider must be an OpenTelemetry MeterProvider, got `\[object Object\]`/, 'TypeError'],
    ['runtimeMetrics', { runtimeMetrics: 'on' }, /^runtimeMetrics must be one of 'auto', true, false, got `"on"` \(string\)/, 'TypeError'],
    ['spans', { spans: 1 }, /^spans must be a boolean, got `1` \(number\)/, 'TypeError'],
    ['monitor', { monitor: {} }, /^monitor must be a Monitor from startMonitor\(\)/, 'TypeError'],
  ];
  for (const [what, options, message, kind] of cases) {
    it(`refuses a bad ${what} with a coded ${kind} naming it`, () => {
      const given = typeof options === 'object' && options !== null && !('monitor' in options) ? { monitor, ...options } : options;
      let thrown: unknown;
      try {
        otelMetrics(given as never);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(kind === 'TypeError' ? TypeError : RangeError);
      expect(thrown).toMatchObject({ code: 'ERR_LOOPGUARD_INVALID_OPTION' });
      expect((thrown as Error).message).toMatch(message);
    });
  }

  it('runs on the global (no-op) provider when none is registered, and unregisters', () => {
    const handle = otelMetrics({ monitor });
    expect(() => handle.unregister()).not.toThrow();
  });
});
