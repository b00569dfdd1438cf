// "This code never blocks the event loop for more than 50 ms" as a failing test.
//   npm run build && npx vitest run --config examples/testing/vitest.config.mjs
import { describe, expect, it } from 'vitest';
import { BlockedError, expectNoBlock } from 'loopguard/testing';
import { findDuplicateSkus, priceBasket } from './pricing.mjs';

const basket = Array.from({ length: 20_000 }, (_, i) => ({ sku: `sku-${i}`, price: 1 + (i % 7), quantity: 1 }));

describe('pricing', () => {
  it('prices a big basket without blocking the loop for more than 50 ms', async () => {
    await expectNoBlock(() => priceBasket(basket), { threshold: 50 });
  });

  // The quadratic duplicate check holds the loop for far longer than 50 ms on 8 000 items.
  // In a real suite this would be `await expectNoBlock(...)` and fail; here we show what the
  // failure carries: the duration and the stack of the blocking function.
  it('catches the quadratic duplicate check, with its stack', async () => {
    const error = await expectNoBlock(() => findDuplicateSkus(basket.slice(0, 8000)), { threshold: 50 }).catch((caught) => caught);
    expect(error).toBeInstanceOf(BlockedError);
    expect(error.code).toBe('ERR_LOOPGUARD_BLOCKED');
    expect(error.event.duration).toBeGreaterThan(50);
    expect(error.event.stack.map((frame) => frame.function)).toContain('findDuplicateSkus');
  });
});
