import { describe, expect, it } from 'vitest';
import { createPool } from 'loopguard';
import { ledgerFor, priceOrder } from '../fixtures/pool/ledger.mjs';
import { fixture, lastJson, runChild } from './helpers.js';

/** A pool with one thread that has learnt priceOrder is tiny: tasks of one tick go in one batch. */
async function warmPool(): Promise<ReturnType<typeof createPool>> {
  const pool = createPool({ maxThreads: 1 });
  const ledger = ledgerFor(1);
  for (let i = 0; i < 50; i++) await pool.run(priceOrder, [ledger, 0, 1, 1]);
  return pool;
}

describe('hostile arguments hurt only their own task', () => {
  it('a getter that throws rejects its task with a DataCloneError naming the path; the rest of the batch succeeds', async () => {
    const pool = await warmPool();
    const ledger = ledgerFor(3);
    const session = { user: 'ada', get secret(): string { throw new Error('secret is write-only'); } };
    const settled = await Promise.allSettled([
      pool.run(priceOrder, [ledger, 0, 2, 3]),
      pool.run(priceOrder, [ledger, 1, { session } as never, 1]),
      pool.run(priceOrder, [ledger, 2, 4, 5]),
    ]);
    expect(settled.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const error = (settled[1] as PromiseRejectedResult).reason as DOMException & { cause?: Error };
    expect(error.name).toBe('DataCloneError');
    expect(error.message).toContain('args[2].session.secret');
    expect(error.cause?.message).toBe('secret is write-only');
    expect(Array.from(ledger)).toEqual([1, 0, 1]); // the hostile task never reached the thread
    await pool.close();
  });

  it('a revoked Proxy rejects its task with a DataCloneError naming it; the rest of the batch succeeds', async () => {
    const pool = await warmPool();
    const ledger = ledgerFor(3);
    const { proxy: cart, revoke } = Proxy.revocable({ items: 3 }, {});
    revoke();
    const settled = await Promise.allSettled([
      pool.run(priceOrder, [ledger, 0, 2, 3]),
      pool.run(priceOrder, [ledger, 1, { order: { cart } } as never, 1]),
      pool.run(priceOrder, [ledger, 2, 4, 5]),
    ]);
    expect(settled.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const error = (settled[1] as PromiseRejectedResult).reason as DOMException;
    expect(error.name).toBe('DataCloneError');
    expect(error.message).toContain('args[2].order.cart (a Proxy)');
    await pool.close();
  });

  it('a revoked Proxy as the argument itself, or as the arguments array, rejects only that task', async () => {
    const pool = await warmPool();
    const ledger = ledgerFor(2);
    const { proxy: cart, revoke } = Proxy.revocable({}, {});
    const { proxy: args, revoke: revokeArgs } = Proxy.revocable([ledger, 1, 1, 1], {});
    revoke();
    revokeArgs();
    const settled = await Promise.allSettled([
      pool.run(priceOrder, [ledger, 0, cart as never, 1]),
      pool.run(priceOrder, args as never),
      pool.run(priceOrder, [ledger, 1, 4, 5]),
    ]);
    expect(settled.map((result) => result.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect((settled[0] as PromiseRejectedResult).reason).toMatchObject({ name: 'DataCloneError', message: expect.stringContaining('args[2] (a Proxy)') as unknown });
    await pool.close();
  });

  it('an arguments array whose trap throws only once the task is posted fails that task alone, with a DataCloneError', async () => {
    const pool = await warmPool();
    const ledger = ledgerFor(3);
    let posted = false;
    const args = new Proxy([ledger, 1, 2, 3], {
      get(target, key, receiver) {
        if (posted && key === '2') throw new Error('cart expired');
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    const tasks = [pool.run(priceOrder, [ledger, 0, 2, 3]), pool.run(priceOrder, args as never), pool.run(priceOrder, [ledger, 2, 4, 5])];
    posted = true; // before the microtask that posts the batch
    const settled = await Promise.allSettled(tasks);
    expect(settled.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ name: 'DataCloneError' });
    await pool.close();
  });

  it('an argument whose getters build new objects on every read fails with a clone error, and the path finder ends', async () => {
    const pool = await warmPool();
    const ledger = ledgerFor(2);
    // Every read makes two fresh children: structured clone recurses until the stack runs
    // out; a path finder without a budget would walk 2^depth objects.
    const endless = (): object => ({ get left(): object { return endless(); }, get right(): object { return endless(); } });
    const settled = await Promise.allSettled([pool.run(priceOrder, [ledger, 0, endless() as never, 1]), pool.run(priceOrder, [ledger, 1, 4, 5])]);
    expect(settled.map((result) => result.status)).toEqual(['rejected', 'fulfilled']);
    expect((settled[0] as PromiseRejectedResult).reason).toMatchObject({ name: 'DataCloneError' });
    await pool.close();
  }, 30_000);

  it('nothing escapes as an uncaught exception: a host with an uncaughtException handler settles every task, closes and exits by itself', async () => {
    const child = await runChild(fixture('hostile-args.mjs'));
    expect(child.stderr).toBe('');
    expect(child.code).toBe(0);
    const { outcomes, ran, uncaught } = lastJson<{
      outcomes: Array<{ value?: number; name?: string; message?: string }>;
      ran: number[];
      uncaught: string[];
    }>(child.stdout);
    expect(uncaught).toEqual([]);
    expect(outcomes[0]).toEqual({ value: 6 });
    expect(outcomes[1]).toMatchObject({ name: 'DataCloneError', message: expect.stringContaining('args[2].session.secret') as unknown });
    expect(outcomes[2]).toEqual({ value: 20 });
    expect(outcomes[3]).toMatchObject({ name: 'DataCloneError', message: expect.stringContaining('args[2] (a Proxy)') as unknown });
    expect(outcomes[4]).toEqual({ value: 42 });
    expect(ran).toEqual([1, 0, 1, 0, 1]);
  });
});
