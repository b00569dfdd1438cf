import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createPool, ThreadPool } from 'loopguard';
import { add } from '../fixtures/pool/functions.mjs';

const internals = ['onResults', 'onExit', 'onCloneError', '_noteOffloaded', 'noteOffloaded'];

describe('ThreadPool is a facade', () => {
  it('has only its public methods, on the prototype and on the instance', async () => {
    const pool = createPool({ maxThreads: 1 });
    expect(Object.getOwnPropertyNames(ThreadPool.prototype).sort()).toEqual(['close', 'constructor', 'destroy', 'run', 'stats']);
    expect(Object.getOwnPropertySymbols(ThreadPool.prototype)).toEqual([Symbol.asyncDispose]);
    expect(Reflect.ownKeys(pool)).toEqual([]);
    for (const name of internals) expect(name in pool).toBe(false);
    await pool.close();
  });

  it('declares none of its internals in the published types', () => {
    const types = readFileSync(fileURLToPath(new URL('../../dist/index.d.ts', import.meta.url)), 'utf8');
    const declaration = /declare class ThreadPool[^]*?\n}/.exec(types)?.[0] ?? '';
    expect(declaration).toContain('run<');
    expect(declaration).toContain('[Symbol.asyncDispose](): Promise<void>');
    for (const name of internals) expect(declaration).not.toContain(name);
  });

  it('Symbol.asyncDispose closes the pool: running tasks finish, new ones are refused', async () => {
    const pool = createPool({ maxThreads: 1 });
    const work = pool.run(add, [1, 2]);
    await pool[Symbol.asyncDispose]();
    await expect(work).resolves.toBe(3);
    expect(pool.stats().threads).toBe(0);
    await expect(pool.run(add, [1, 1])).rejects.toMatchObject({ code: 'ERR_LOOPGUARD_POOL_CLOSED' });
  });
});

describe('the function-source registry is bounded', () => {
  const definitionsKey = Symbol.for('loopguard.v1.poolDefinitions');

  it('remembers at most 1,000 sources, and one forgotten then used again still runs right', async () => {
    const pool = createPool({ maxThreads: 1 });
    // 1,500 distinct self-contained functions, as code that builds one per request would make.
    const functions = Array.from({ length: 1500 }, (_, i) => new Function('n', `return n + ${i};`) as (n: number) => number);
    for (let round = 0; round < 2; round++) {
      const values = await Promise.all(functions.map((fn) => pool.run(fn, [1])));
      expect(values).toEqual(functions.map((_, i) => 1 + i));
    }
    // Out of order: the thread forgot the oldest ones; they are sent again, those it holds are not.
    for (const i of [0, 1499, 3, 1200, 0]) expect(await pool.run(functions[i]!, [10])).toBe(10 + i);
    const definitions = (globalThis as Record<symbol, { bySource: Map<string, unknown> }>)[definitionsKey]!;
    expect(definitions.bySource.size).toBeLessThanOrEqual(1000);
    await pool.close();
  }, 30_000);
});
