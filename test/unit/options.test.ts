import { describe, expect, it } from 'vitest';
import { InvalidOptionRangeError, InvalidOptionTypeError } from 'loopguard';

describe('error classes', () => {
  it('option errors are TypeError/RangeError with a stable code', () => {
    const typeError = new InvalidOptionTypeError('x');
    const rangeError = new InvalidOptionRangeError('y');
    expect(typeError).toBeInstanceOf(TypeError);
    expect(rangeError).toBeInstanceOf(RangeError);
    expect(typeError.code).toBe('ERR_LOOPGUARD_INVALID_OPTION');
    expect(rangeError.code).toBe('ERR_LOOPGUARD_INVALID_OPTION');
  });
});
