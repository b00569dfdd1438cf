// The sliced VLQ decoder (sourcemaps.ts) gives what trace-mapping's own decode gives, with each
// line sorted, and lets the loop turn inside one long mappings string.
import { describe, expect, it } from 'vitest';
import { TraceMap, decodedMappings } from '@jridgewell/trace-mapping';
import { decodeMappings } from '../../src/shared/sourcemaps.js';

function reference(mappings: string): number[][][] {
  const decoded = decodedMappings(new TraceMap({ version: 3, sources: ['a.ts', 'b.ts'], names: ['x', 'y', 'z'], mappings })) as number[][][];
  return decoded.map((line) => line.map((segment) => [...segment]));
}

describe('decodeMappings', () => {
  it('decodes like trace-mapping: 1-, 4- and 5-field segments, negative and large deltas, empty lines', async () => {
    for (const mappings of [
      '',
      ';;',
      'AAAA',
      'AAAA,CAAC,EAAEA;;ACDC,gBAAgBC,iCAAiC;A',
      'AAAA;AACA;AACA,SAAS,kBAAkB;;;;AAIjB,2BAA2BE',
      'K,CAAC;AAAD,eAAe',
    ]) {
      expect(await decodeMappings(mappings, { start: performance.now() })).toEqual(reference(mappings));
    }
  });

  it('sorts a line whose segments are out of order', async () => {
    // Column 10, then back to 2 (a negative delta).
    const decoded = await decodeMappings('UAAA,RAAC', { start: performance.now() });
    expect(decoded[0]?.map((segment) => segment[0])).toEqual([2, 10]);
  });

  it('throws on a malformed string', async () => {
    await expect(decodeMappings('AA!A', { start: performance.now() })).rejects.toThrow(/invalid mappings/);
  });

  it('lets the loop turn during one long line of a minified bundle', async () => {
    const mappings = new Array(400_000).fill('CAAC').join(',');
    let turns = 0;
    const counter = setInterval(() => (turns += 1), 0);
    const decoded = await decodeMappings(mappings, { start: performance.now() });
    clearInterval(counter);
    expect(decoded).toHaveLength(1);
    expect(decoded[0]).toHaveLength(400_000);
    expect(decoded[0]?.[399_999]).toEqual([400_000, 0, 0, 400_000]);
    expect(turns).toBeGreaterThan(0);
  });
});
