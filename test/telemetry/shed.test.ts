/**
 * shed()'s core without a server: every option validated up front on every adapter, the
 * sliding window (a simulated week of calm, then one bad window must trip it, as after a
 * minute), the answers, the hook's errors swallowed, and no process kept alive.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { shed as expressShed } from 'loopguard/express';
import { shed as fastifyShed } from 'loopguard/fastify';
import { shed as honoShed } from 'loopguard/hono';
import { shed as httpShed } from 'loopguard/http';
import { shed as koaShed } from 'loopguard/koa';
import { LoopguardModule, shed as nestShed } from 'loopguard/nestjs';
import { createPool } from 'loopguard';
import { Shedder, type ShedSample } from '../../src/telemetry/shed.js';

const adapters: Array<[string, (options: never) => unknown]> = [
  ['express', expressShed],
  ['fastify', fastifyShed],
  ['koa', koaShed],
  ['hono', honoShed],
  ['http', httpShed],
  ['nestjs', nestShed],
  ['nestjs forRoot', (options) => LoopguardModule.forRoot({ shed: options })],
];

describe('shed() options', () => {
  const cases: Array<[string, unknown, RegExp, 'TypeError' | 'RangeError']> = [
    ['unknown key', { maxDelay: 100, maxDealy: 5 }, /unknown option `maxDealy`/, 'TypeError'],
    ['not an object', 'fast', /shed\(\) options must be an object/, 'TypeError'],
    ['no limit and no health', {}, /needs at least one of maxDelay/, 'TypeError'],
    ['maxDelay a string', { maxDelay: '100' }, /maxDelay must be a number >= 1, got `"100"` \(string\)/, 'TypeError'],
    ['maxDelay zero', { maxDelay: 0 }, /maxDelay must be a number >= 1, got `0`/, 'RangeError'],
    ['maxUtilization above 1', { maxUtilization: 1.5 }, /maxUtilization must be a number from 0 to 1, got `1.5`/, 'RangeError'],
    ['maxPoolWait negative', { maxPoolWait: -1 }, /maxPoolWait must be a number >= 0/, 'RangeError'],
    ['maxPoolWait NaN', { maxPoolWait: NaN }, /maxPoolWait must be a number/, 'TypeError'],
    ['window too short', { maxDelay: 100, window: 50 }, /window must be an integer from 100 to 600000, got `50`/, 'RangeError'],
    ['window too long', { maxDelay: 100, window: 600_001 }, /window must be an integer from 100 to 600000, got `600001`/, 'RangeError'],
    ['window fractional', { maxDelay: 100, window: 1000.5 }, /window must be an integer from 100 to 600000/, 'RangeError'],
    ['retryAfter negative', { maxDelay: 100, retryAfter: -1 }, /retryAfter must be an integer >= 0/, 'RangeError'],
    ['retryAfter a string', { maxDelay: 100, retryAfter: '2' }, /retryAfter must be an integer >= 0/, 'TypeError'],
    ['health empty', { health: '' }, /health must be a non-empty string/, 'TypeError'],
    ['health not a path', { health: 'health' }, /health must be a path starting with \//, 'TypeError'],
    ['onShed not a function', { maxDelay: 100, onShed: 'log' }, /onShed must be a function/, 'TypeError'],
  ];
  describe.each(adapters)('on %s', (_name, shed) => {
    it.each(cases)('refuses %s with a coded error naming the option', (_case, options, message, kind) => {
      let error: unknown;
      try {
        shed(options as never);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(kind === 'TypeError' ? TypeError : RangeError);
      expect(error).toMatchObject({ code: 'ERR_LOOPGUARD_INVALID_OPTION', message: expect.stringMatching(message) });
    });
  });

  it('accepts the documented options', () => {
    for (const [, shed] of adapters) {
      expect(() =>
        shed({ maxDelay: 200, maxUtilization: 0.98, maxPoolWait: 1000, window: 5000, retryAfter: 10, health: '/health', onShed() {} } as never),
      ).not.toThrow();
    }
  });
});

/** A Shedder on a fake clock, fed samples by hand, one per tick. */
function fakeShedder(options: Record<string, unknown>) {
  let now = 0;
  let next: Omit<ShedSample, 'at'> = { delayMs: 0, activeMs: 0, idleMs: 0, poolWaitMs: 0 };
  const shedder = new Shedder(options, { now: () => now, timer: false, sample: () => next });
  return {
    shedder,
    /** `ticks` ticks of `tickMs`, each measuring `sample` (busy/idle scaled to the tick). */
    run(ticks: number, tickMs: number, sample: { delayMs?: number; utilization?: number; poolWaitMs?: number }) {
      const utilization = sample.utilization ?? 0.01;
      next = {
        delayMs: sample.delayMs ?? 0,
        activeMs: tickMs * utilization,
        idleMs: tickMs * (1 - utilization),
        poolWaitMs: sample.poolWaitMs ?? 0,
      };
      for (let i = 0; i < ticks; i++) {
        now += tickMs;
        shedder.tick();
      }
    },
  };
}

const WEEK = 7 * 24 * 3600 * 1000;

describe('shed() window', () => {
  it.each([
    ['maxDelay', { delayMs: 300 }, /^loop delay p99 300 ms > 100 ms$/],
    ['maxUtilization', { utilization: 1 }, /^loop utilization 1.00 > 0.9$/],
    ['maxPoolWait', { poolWaitMs: 2000 }, /^pool wait p99 2000 ms > 1000 ms$/],
  ])('trips on %s after a week of calm as after a minute, and clears once the bad window is past', (_limit, bad, reason) => {
    const options = { maxDelay: 100, maxUtilization: 0.9, maxPoolWait: 1000, window: 10_000 };
    const young = fakeShedder(options);
    young.run(600, 100, {});
    young.run(100, 100, bad);
    expect(young.shedder.status()).toMatchObject({ overloaded: true, reason: expect.stringMatching(reason) });

    // A week of calm at one sample a second (the figure per tick does not matter: the window
    // is what counts), then ten seconds at the real 100 ms tick, then one bad window.
    const old = fakeShedder(options);
    old.run(WEEK / 1000, 1000, {});
    old.run(100, 100, {});
    expect(old.shedder.status().overloaded).toBe(false);
    old.run(100, 100, bad);
    expect(old.shedder.status()).toEqual(young.shedder.status());

    // Still tripped just after; clear once the bad samples have left the window.
    old.run(5, 100, {});
    expect(old.shedder.status().overloaded).toBe(true);
    old.run(95, 100, {});
    expect(old.shedder.status()).toMatchObject({ overloaded: false, reason: undefined });
  });

  it('takes the p99 of the window, not its worst sample: one late tick in 200 does not trip it', () => {
    const { shedder, run } = fakeShedder({ maxDelay: 100, window: 20_000 });
    run(199, 100, {});
    run(1, 100, { delayMs: 500 });
    expect(shedder.status().overloaded).toBe(false);
    run(2, 100, { delayMs: 500 });
    expect(shedder.status()).toMatchObject({ overloaded: true, delayP99: 500 });
  });
});

describe('shed() answers', () => {
  it('answers health GET/HEAD 200 then 503 with the reason, sheds other paths with Retry-After, and swallows onShed errors', async () => {
    const seen: string[] = [];
    const { shedder, run } = fakeShedder({
      maxDelay: 100,
      window: 1000,
      retryAfter: 2,
      health: '/health',
      onShed(_req: unknown, reason: string) {
        seen.push(reason);
        if (seen.length === 1) throw new Error('sync hook failure');
        return Promise.reject(new Error('async hook failure'));
      },
    });
    run(10, 100, {});
    expect(shedder.decide('GET', '/users/1', {})).toBeUndefined();
    expect(shedder.decide('GET', '/health', {})).toMatchObject({ status: 200, body: expect.stringContaining('"status":"ok"') });
    expect(shedder.decide('POST', '/health', {})).toBeUndefined();

    run(10, 100, { delayMs: 300 });
    const answer = shedder.decide('GET', '/users/1', {});
    expect(answer).toEqual({
      status: 503,
      headers: { 'content-type': 'application/json; charset=utf-8', 'retry-after': '2' },
      body: JSON.stringify({ error: 'overloaded', reason: 'loop delay p99 300 ms > 100 ms' }),
    });
    // The rejected promise of the second call must not become an unhandled rejection.
    expect(shedder.decide('POST', '/orders', {})?.status).toBe(503);
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual(['loop delay p99 300 ms > 100 ms', 'loop delay p99 300 ms > 100 ms']);

    const health = shedder.decide('GET', '/health', {})!;
    expect(health.status).toBe(503);
    expect(JSON.parse(health.body!)).toMatchObject({ status: 'overloaded', reason: 'loop delay p99 300 ms > 100 ms' });
    expect(shedder.decide('HEAD', '/health', {})).toMatchObject({ status: 503, body: undefined });
    // The health route is never shed, so it never calls onShed.
    expect(seen).toHaveLength(2);
  });
});

describe('shed() on a live pool', () => {
  it('trips maxPoolWait while a pool has a queue, from the real sampler, and clears once it drains', async () => {
    const pool = createPool({ minThreads: 1, maxThreads: 1, name: 'shed-test' });
    // The real timer and sampler (dist's pools register in the same global as src's).
    const shedder = new Shedder({ maxPoolWait: 300, window: 1000 });
    // Tasks that sleep in their thread (no CPU): 150 ms each, eight queued on one thread.
    const nap = (ms: number): number => {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
      return ms;
    };
    try {
      const tasks = Array.from({ length: 8 }, () => pool.run(nap, [150]));
      const started = performance.now();
      while (!shedder.status().overloaded) {
        if (performance.now() - started > 5000) throw new Error(`not tripped: ${JSON.stringify(shedder.status())}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(shedder.status().reason).toMatch(/^pool wait p99 \d+ ms > 300 ms$/);
      await Promise.all(tasks);
      const drained = performance.now();
      while (shedder.status().overloaded) {
        if (performance.now() - drained > 5000) throw new Error('not cleared');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await pool.close();
    }
  });
});

describe('shed() and the process', () => {
  it('keeps no process alive (its tick timer is unref’d)', () => {
    const dist = fileURLToPath(new URL('../../dist/express.js', import.meta.url));
    const script = `import(${JSON.stringify(dist)}).then(({ shed }) => { shed({ maxDelay: 100, window: 1000 }); console.log('made'); })`;
    const out = execFileSync(process.execPath, ['-e', script], { timeout: 10_000, encoding: 'utf8' });
    expect(out.trim()).toBe('made');
  });
});
