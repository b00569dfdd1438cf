// The CLI's exit summary shows the app's libuv thread-pool wait: stats().libuv travels in the
// app's stats records (zero-code/stream-out.ts) to the CLI's collector.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanEnv, cliPath, killLeftovers, run } from './helpers.js';

const app = fileURLToPath(new URL('../fixtures/monitor/libuv-pool.mjs', import.meta.url));

afterEach(killLeftovers);

describe('loopguard command line: libuv pool', () => {
  it("prints the app's saturated libuv pool in the summary", async () => {
    const cli = run(process.execPath, [cliPath, '--', process.execPath, app, 'saturate'], cleanEnv({ UV_THREADPOOL_SIZE: '4' }));
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    const line = cli.stderr.split('\n').find((candidate) => candidate.includes('libuv pool'));
    expect(line).toMatch(/^ {2}libuv pool {3}wait p50 \S+ ms {2}p99 \S+ m?s {2}max (\S+) (m?s) {3}saturated \S+ m?s \(UV_THREADPOOL_SIZE\)$/);
    const [, value = '', unit = ''] = /max (\S+) (m?s)/.exec(line ?? '') ?? [];
    expect(Number(value) * (unit === 's' ? 1000 : 1)).toBeGreaterThanOrEqual(100);
  }, 30_000);
});
