/** What crosses the queue's process boundary (src/queue/payload.ts), on every Node. */
import { serialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { JobCancelledError, PayloadTooLargeError, UnknownJobFunctionError } from 'loopguard/queue';
import { InvalidOptionRangeError, LoopguardError } from 'loopguard';
import {
  decodeArguments,
  decodeError,
  decodeValue,
  encodeArguments,
  encodeError,
  encodeResult,
} from '../../src/queue/payload.js';

const roundTrip = (error: unknown): Error => decodeError(encodeError(error));

class LedgerLockedError extends Error {
  readonly code = 'E_LEDGER_LOCKED';
  readonly ledger: string;
  readonly lockedUntil: Date;
  constructor(ledger: string, options?: ErrorOptions) {
    super(`ledger ${ledger} is locked for the month-end close`, options);
    this.name = 'LedgerLockedError';
    this.ledger = ledger;
    this.lockedUntil = new Date(Date.UTC(2026, 11, 3));
  }
}

describe('values', () => {
  it('keeps Date, Map, Set, BigInt, Buffer and typed arrays across', () => {
    const args = [
      new Date(Date.UTC(2026, 0, 2)),
      new Map<string, bigint>([['total', 12_345_678_901_234_567_890n]]),
      new Set(['a', 'b']),
      Buffer.from('pdf bytes'),
      new Float64Array([1.5, -2]),
      { nested: { at: new Date(0), ids: new Uint32Array([7, 8]) } },
    ];
    const [date, map, set, buffer, floats, nested] = decodeArguments(encodeArguments('renderReport', args)) as typeof args;
    expect(date).toEqual(args[0]);
    expect(map).toEqual(args[1]);
    expect(set).toEqual(args[2]);
    expect(Buffer.isBuffer(buffer)).toBe(true);
    expect(buffer!.toString()).toBe('pdf bytes');
    expect(floats).toBeInstanceOf(Float64Array);
    expect(nested).toEqual(args[5]);
    expect(decodeValue(encodeResult('renderReport', 42n))).toBe(42n);
  });

  it('writes a primitive result as v8.serialize() does, one after another (the reused serializer), and a symbol still fails', () => {
    const values = [0, 7, -1, 2 ** 31, 1.5, -0, Number.NaN, 'sum', 'é', '日本', '', true, false, null, undefined, 10n, -(2n ** 70n)];
    for (const value of values) {
      const encoded = encodeResult('add', value);
      expect(encoded).toBe(serialize(value).toString('base64'));
      expect(Object.is(decodeValue(encoded), value)).toBe(true);
    }
    expect(() => encodeResult('add', Symbol('x'))).toThrow(/could not be serialised for the queue/);
    expect(() => encodeResult('add', 'x'.repeat(2_000), 1_024)).toThrow(PayloadTooLargeError);
    // After a failure the next value comes out whole.
    expect(decodeValue(encodeResult('add', 42))).toBe(42);
  });

  it('refuses arguments and results over maxPayload, saying which and to pass a reference', () => {
    const big = Buffer.alloc(2_000);
    expect(() => encodeArguments('renderReport', [big], 1_024)).toThrow(PayloadTooLargeError);
    expect(() => encodeArguments('renderReport', [big], 1_024)).toThrow(/^renderReport's arguments: 20\d\d bytes serialised, over the queue's maxPayload of 1024 bytes; .*pass a reference/);
    expect(() => encodeResult('renderReport', big, 1_024)).toThrow(/^renderReport's result: /);
    expect(() => encodeArguments('renderReport', [big.subarray(0, 900)], 1_024)).not.toThrow();
  });

  it('names the path of a function or a symbol that cannot cross', () => {
    expect(() => encodeArguments('notify', [{ user: { onDone: () => 1 } }])).toThrow(/^args\[0\]\.user\.onDone \(a function\) could not be serialised for the queue/);
    expect(() => encodeResult('notify', { tag: Symbol('x') })).toThrow(/^result\.tag \(a symbol\) could not be serialised for the queue/);
    const error = (() => {
      try {
        encodeArguments('notify', [() => 1]);
      } catch (e) {
        return e as DOMException;
      }
    })();
    expect(error?.name).toBe('DataCloneError');
  });
});

describe('errors', () => {
  it('keeps a custom error\'s class name, message, code, own properties and stack', () => {
    const original = new LedgerLockedError('2026-11');
    const decoded = roundTrip(original) as LedgerLockedError;
    expect(decoded).toBeInstanceOf(Error);
    expect(decoded.name).toBe('LedgerLockedError');
    expect(decoded.message).toBe('ledger 2026-11 is locked for the month-end close');
    expect(decoded.code).toBe('E_LEDGER_LOCKED');
    expect(decoded.ledger).toBe('2026-11');
    expect(decoded.lockedUntil).toEqual(new Date(Date.UTC(2026, 11, 3)));
    expect(decoded.stack).toBe(original.stack);
  });

  it('keeps the cause chain, of errors and of plain values, and cuts a cycle', () => {
    const root = Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED', port: 5432 });
    const decoded = roundTrip(new LedgerLockedError('2026-10', { cause: new TypeError('bad ledger row', { cause: root }) }));
    const cause = decoded.cause as TypeError;
    expect(cause).toBeInstanceOf(TypeError);
    expect(cause.message).toBe('bad ledger row');
    expect(cause.cause).toMatchObject({ message: 'connect ECONNREFUSED 10.0.0.5:5432', code: 'ECONNREFUSED', port: 5432 });
    expect(roundTrip(new Error('with data', { cause: { row: 7 } })).cause).toEqual({ row: 7 });
    const looped = new Error('looped') as Error & { cause?: unknown };
    looped.cause = looped;
    let depth = 0;
    for (let e: unknown = roundTrip(looped); e instanceof Error; e = e.cause) depth++;
    expect(depth).toBeGreaterThan(1);
    expect(depth).toBeLessThan(20);
  });

  it('rebuilds loopguard\'s own errors as their real classes, so instanceof and code work', () => {
    const cancelled = roundTrip(new JobCancelledError('42'));
    expect(cancelled).toBeInstanceOf(JobCancelledError);
    expect(cancelled).toBeInstanceOf(LoopguardError);
    expect(cancelled).toMatchObject({ code: 'ERR_LOOPGUARD_JOB_CANCELLED', id: '42', message: 'job 42 was cancelled' });
    const unknown = roundTrip(new UnknownJobFunctionError('renderReprot', 'no marked function "renderReprot"'));
    expect(unknown).toBeInstanceOf(UnknownJobFunctionError);
    expect((unknown as UnknownJobFunctionError).function).toBe('renderReprot');
    const range = roundTrip(new InvalidOptionRangeError('threshold must be a number >= 1, got `0`'));
    expect(range).toBeInstanceOf(InvalidOptionRangeError);
    expect(range).toBeInstanceOf(RangeError);
    expect(roundTrip(new RangeError('built-in'))).toBeInstanceOf(RangeError);
  });

  it('says what a thrown non-error was, and cuts an error over maxPayload instead of failing', () => {
    expect(roundTrip('quota exceeded').message).toBe('non-error thrown: quota exceeded');
    const huge = Object.assign(new LedgerLockedError('2026-09'), { rows: 'x'.repeat(5_000) });
    const cut = decodeError(encodeError(huge, 1_024)) as LedgerLockedError;
    expect(cut.name).toBe('LedgerLockedError');
    expect(cut.code).toBe('E_LEDGER_LOCKED');
    expect(cut.message).toContain("over the queue's maxPayload");
    expect((cut as unknown as { rows?: string }).rows).toBeUndefined();
  });

  it('leaves out what cannot be serialised rather than failing', () => {
    const error = Object.assign(new Error('socket hung up'), { socket: { write: () => true }, code: 'ECONNRESET' });
    const decoded = roundTrip(error) as Error & { code?: string; socket?: unknown };
    expect(decoded.code).toBe('ECONNRESET');
    expect(decoded.socket).toBeUndefined();
  });
});
