/**
 * The framework examples run as users run them (`node examples/<x>/server.mjs --once`): they
 * exit on their own with code 0, answer every request, and the blocking route, and only that
 * one, is among the top blockers with its route pattern and function.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The lines after "top blockers:". */
function topBlockers(stdout: string): string {
  return stdout.slice(stdout.indexOf('top blockers:'));
}

function runExample(name: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [`examples/${name}/server.mjs`, '--once'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('framework examples', () => {
  it('express: the blocking route is a top blocker with hashPassword, the fixed one is not', () => {
    const { status, stdout } = runExample('express');
    expect(status).toBe(0);
    expect(stdout).toContain('GET /users/42/blocking -> 200');
    expect(stdout).toContain('GET /users/42/fixed -> 200');
    expect(stdout).toMatch(/GET \/users\/:id\/blocking +hashPassword \(examples\/express\/tasks\.mjs:\d+\)/);
    expect(topBlockers(stdout)).not.toContain('/fixed');
  }, 70_000);

  it('fastify: three offloaded reports are answered and a bad request gets 400', () => {
    const { status, stdout } = runExample('fastify');
    expect(status).toBe(0);
    for (const id of ['q1', 'q2', 'q3']) expect(stdout).toContain(`GET /reports/${id}?days=20 -> 200 {"report":"${id}"`);
    expect(stdout).toContain('GET /reports/q4?days=0 -> 400');
  }, 70_000);

  it('koa: the blocking route is a top blocker with countPrimes, the offloaded one is not', () => {
    const { status, stdout } = runExample('koa');
    expect(status).toBe(0);
    expect(stdout).toContain('GET /primes/offloaded -> 200 {"limit":2000000,"primes":148933}');
    expect(stdout).toMatch(/GET \/primes\/blocking +countPrimes \(examples\/koa\/tasks\.mjs:\d+\)/);
    expect(topBlockers(stdout)).not.toContain('/offloaded');
  }, 70_000);

  it('hono: the inline route is a top blocker with wordCounts, and the offloaded one answers', () => {
    const { status, stdout } = runExample('hono');
    expect(status).toBe(0);
    expect(stdout).toContain('POST /words/offloaded -> 200 {"top":[["the",48000]');
    expect(stdout).toContain('POST /words/offloaded -> 400');
    expect(stdout).toMatch(/POST \/words\/inline +wordCounts \(examples\/hono\/tasks\.mjs:\d+\)/);
    // No negative check here: the offloaded route still reads a 2.6 MB body on the loop, which
    // a loaded host can stretch past the threshold.
  }, 70_000);
});
