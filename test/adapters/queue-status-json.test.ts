// jobStatus()'s answer for a job whose result has the types a queue keeps (v8 serialisation):
// JSON.stringify alone throws on a BigInt (a 500 instead of the job's status) and writes a Map
// or a Set as {} (its data gone without a word).
import { describe, expect, it } from 'vitest';
import { statusAnswer } from '../../src/adapters/queue-routes.js';

const completed = {
  id: 'job-7',
  function: 'renderReport',
  state: 'completed',
  attempts: 1,
  result: {
    month: '2026-11',
    totalCents: 2n ** 70n,
    byRegion: new Map([
      ['north', 12n],
      ['south', 30n],
    ]),
    tags: new Set(['monthly', 'sales']),
    generatedAt: new Date('2026-12-01T08:00:00.000Z'),
  },
};

describe('jobStatus() answers', () => {
  it('writes a BigInt as its decimal string, a Map as an object of its entries and a Set as an array', async () => {
    const queue = { enqueue: () => Promise.reject(new Error('unused')), status: () => Promise.resolve(completed) };
    const answer = await statusAnswer(queue, 'job-7');
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({
      id: 'job-7',
      function: 'renderReport',
      state: 'completed',
      attempts: 1,
      result: {
        month: '2026-11',
        totalCents: String(2n ** 70n),
        byRegion: { north: '12', south: '30' },
        tags: ['monthly', 'sales'],
        generatedAt: '2026-12-01T08:00:00.000Z',
      },
    });
  });
});
