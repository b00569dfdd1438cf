// The libuv thread-pool probe (stats().libuv): a saturated pool, a quiet one, and the option off.
import { describe, expect, it } from 'vitest';
import { runFixture } from './fixture.js';

interface Libuv {
  delay: { p50: number; p99: number; max: number };
  saturatedMs: number;
}
type StatsLine = { stats: { libuv?: Libuv } };

const env = { ...process.env, UV_THREADPOOL_SIZE: '4', NODE_ENV: 'test' };

describe('stats().libuv', () => {
  it('sixteen async pbkdf2 on 4 threads: a wait far above the threshold, and one warning naming UV_THREADPOOL_SIZE', async () => {
    const fixture = runFixture('libuv-pool.mjs', { args: ['saturate'], env });
    const during = await fixture.waitFor<StatsLine>((line) => line['type'] === 'during');
    const final = await fixture.waitFor<StatsLine>((line) => line['type'] === 'stats');
    // Exits by itself: the probe's timer is unref'd and the monitor is never stopped.
    expect(await fixture.exited).toEqual({ code: 0, signal: null });
    expect(during.stats.libuv?.delay.max).toBeGreaterThanOrEqual(100);
    expect(final.stats.libuv?.saturatedMs).toBeGreaterThanOrEqual(100);
    // The window keeps the episode after the pool is free again.
    expect(final.stats.libuv?.delay.max).toBeGreaterThanOrEqual(during.stats.libuv?.delay.max ?? Infinity);
    const warnings = fixture.stderr().split('\n').filter((line) => line.includes("libuv's thread pool is saturated"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/UV_THREADPOOL_SIZE=4\b/);
    expect(warnings[0]).toMatch(/UV_THREADPOOL_SIZE=16 node app\.js/);
    expect(warnings[0]).toMatch(/threaded\(\)/);
  }, 30_000);

  it('a quiet pool: small waits, no warning, and the process exits by itself', async () => {
    const fixture = runFixture('libuv-pool.mjs', { args: ['idle'], env });
    const final = await fixture.waitFor<StatsLine>((line) => line['type'] === 'stats');
    expect(await fixture.exited).toEqual({ code: 0, signal: null });
    expect(final.stats.libuv).toBeDefined();
    expect(final.stats.libuv?.delay.p99).toBeLessThan(20);
    expect(final.stats.libuv?.saturatedMs).toBe(0);
    expect(fixture.stderr()).not.toMatch(/thread pool is saturated/);
  }, 30_000);

  it("leaves the loop's own lateness out: a 600 ms block of the loop with a free pool is no pool wait", async () => {
    const fixture = runFixture('libuv-pool.mjs', { args: ['busy'], env });
    const final = await fixture.waitFor<StatsLine>((line) => line['type'] === 'stats');
    // The block came right after the probe's work item went to the pool.
    expect(fixture.lines.some((line) => line['type'] === 'blocked-after-probe')).toBe(true);
    expect(await fixture.exited).toEqual({ code: 0, signal: null });
    expect(fixture.stderr()).toMatch(/event loop blocked for/);
    expect(final.stats.libuv?.delay.max).toBeLessThan(50);
    expect(fixture.stderr()).not.toMatch(/thread pool is saturated/);
  }, 30_000);

  it('libuv: false starts no probe: no libuv key, no warning on a saturated pool', async () => {
    const fixture = runFixture('libuv-pool.mjs', { args: ['off'], env });
    const during = await fixture.waitFor<StatsLine>((line) => line['type'] === 'during');
    expect(await fixture.exited).toEqual({ code: 0, signal: null });
    expect(during.stats).not.toHaveProperty('libuv');
    expect(fixture.stderr()).not.toMatch(/thread pool is saturated/);
  }, 30_000);
});
