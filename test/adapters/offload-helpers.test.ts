import { describe, expect, it } from 'vitest';
import { cloneable, parseBody, plainHeaders, statusOf } from '../../src/adapters/offload.js';

describe('offload input copies', () => {
  it('copies null-prototype objects and class instances to plain, cloneable objects', () => {
    const query = Object.assign(Object.create(null) as object, { page: '2', tags: ['a', 'b'] });
    class Body {
      size = 3;
      describe(): string {
        return 'body';
      }
    }
    const copy = cloneable({ query, body: new Body() });
    expect(copy).toEqual({ query: { page: '2', tags: ['a', 'b'] }, body: { size: 3 } });
    expect(() => structuredClone(copy)).not.toThrow();
  });

  it('leaves out functions and symbols and cuts cycles', () => {
    const node: Record<string, unknown> = { name: 'root', run: () => 1, tag: Symbol('x') };
    node['self'] = node;
    expect(cloneable(node)).toEqual({ name: 'root' });
  });

  it('keeps values the clone algorithm handles natively', () => {
    const bytes = Buffer.from('abc');
    const when = new Date(0);
    const copy = cloneable({ bytes, when }) as { bytes: Buffer; when: Date };
    expect(copy.bytes).toBe(bytes);
    expect(copy.when).toBe(when);
  });

  it('lower-cases header names and keeps only string values', () => {
    expect(plainHeaders({ 'X-Agent': 'a', 'set-cookie': ['x', 'y'], bogus: 1 })).toEqual({
      'x-agent': 'a',
      'set-cookie': ['x', 'y'],
    });
    expect(plainHeaders(new Headers({ 'X-Agent': 'b' }))).toEqual({ 'x-agent': 'b' });
  });
});

describe('offload error status', () => {
  it('takes status, then statusCode, when it is an HTTP error status', () => {
    expect(statusOf(Object.assign(new Error(), { status: 404 }))).toBe(404);
    expect(statusOf(Object.assign(new Error(), { statusCode: 503 }))).toBe(503);
  });

  it('answers 500 for anything else', () => {
    expect(statusOf(new Error())).toBe(500);
    expect(statusOf(Object.assign(new Error(), { status: 200 }))).toBe(500);
    expect(statusOf(Object.assign(new Error(), { status: '404' }))).toBe(500);
    expect(statusOf('text')).toBe(500);
  });
});

describe('offload body parsing', () => {
  it('parses JSON content types and leaves other text as it is', () => {
    expect(parseBody('{"a":1}', 'application/json; charset=utf-8')).toEqual({ a: 1 });
    expect(parseBody('{"a":1}', 'application/vnd.api+json')).toEqual({ a: 1 });
    expect(parseBody('hello', 'text/plain')).toBe('hello');
    expect(parseBody('', 'application/json')).toBeUndefined();
  });

  it('refuses malformed JSON with a 400', () => {
    expect(() => parseBody('{', 'application/json')).toThrow(expect.objectContaining({ status: 400 }));
  });
});
