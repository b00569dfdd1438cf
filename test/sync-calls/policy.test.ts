import { beforeAll, describe, expect, it } from 'vitest';
import { runFixture } from './run-fixture.js';

interface Attempt {
  threw: boolean;
  isBlockingCallError?: boolean;
  code?: string;
  call?: string;
  message?: string;
  firstStackLine?: string;
}

interface ThrowResult {
  startUp: Attempt;
  inTask: Attempt;
  writeInTask: Attempt;
  fileWritten: boolean;
  ignored: Attempt;
  inRequest: Attempt;
  afterUninstall: Attempt;
}

describe("syncCalls: 'throw'", () => {
  let result: ThrowResult;
  beforeAll(async () => {
    result = await runFixture<ThrowResult>('throw.mjs');
  });

  it('throws BlockingCallError with its code inside withContext', () => {
    expect(result.inTask).toMatchObject({
      threw: true,
      isBlockingCallError: true,
      code: 'ERR_LOOPGUARD_BLOCKING_CALL',
      call: 'fs.readFileSync',
    });
  });

  it('names the call and the task and suggests threaded() or runInThreadpool()', () => {
    expect(result.inTask.message).toContain('fs.readFileSync');
    expect(result.inTask.message).toContain("'nightly-job'");
    expect(result.inTask.message).toContain('fs.promises.readFile');
    expect(result.inTask.message).toMatch(/threaded\(\).*runInThreadpool\(\)/);
  });

  it("starts the error's stack at the caller, not in loopguard", () => {
    expect(result.inTask.firstStackLine).toContain('throw.mjs');
  });

  it('throws before the call runs', () => {
    expect(result.writeInTask).toMatchObject({ threw: true, call: 'fs.writeFileSync' });
    expect(result.fileWritten).toBe(false);
  });

  it('allows the call outside any context', () => {
    expect(result.startUp).toEqual({ threw: false });
  });

  it('names the request method and path, without the query, inside a node:http request', () => {
    expect(result.inRequest).toMatchObject({ threw: true, code: 'ERR_LOOPGUARD_BLOCKING_CALL' });
    expect(result.inRequest.message).toContain('GET /reports/7');
    expect(result.inRequest.message).not.toContain('secret');
  });

  it('allows calls matched by ignore', () => {
    expect(result.ignored).toEqual({ threw: false });
  });

  it('throws nothing after uninstall', () => {
    expect(result.afterUninstall).toEqual({ threw: false });
  });
});

describe("ignore with syncCalls: 'warn'", () => {
  let result: Record<string, string[]>;
  beforeAll(async () => {
    result = await runFixture<Record<string, string[]>>('ignore.mjs');
  });
  const all = ['fs.readFileSync readConfig', 'fs.readFileSync readOther', 'fs.statSync <anonymous>', 'fs.readFileSync readFromLibrary'];

  it('reports every call site without ignore', () => {
    expect(result['none']).toEqual(all);
  });

  it('leaves out an API named in functions', () => {
    expect(result['callName']).toEqual(all.filter((entry) => !entry.startsWith('fs.statSync')));
  });

  it('leaves out calls made inside a function named in functions, by string or RegExp', () => {
    expect(result['functionName']).toEqual(['fs.readFileSync readOther', 'fs.statSync <anonymous>']);
  });

  it('leaves out calls made from a file listed in files', () => {
    expect(result['files']).toEqual(all.slice(0, 3));
  });

  it('leaves out calls in a route listed in routes, by string or RegExp on the path', () => {
    expect(result['routeString']).toEqual([]);
    expect(result['routeRegExp']).toEqual([]);
    expect(result['otherRoute']).toEqual(all);
  });

  it('leaves out what a predicate returns true for', () => {
    expect(result['predicate']).toEqual(all.filter((entry) => !entry.startsWith('fs.statSync')));
  });
});

describe("call sites with syncCalls: 'warn'", () => {
  it('reports each call site once, however often it runs', async () => {
    const events = await runFixture<Array<{ line: number; name: string }>>('dedupe.mjs');
    expect(events.map((event) => event.name)).toEqual(['batch', 'batch', 'another-task']);
    expect(new Set(events.map((event) => event.line)).size).toBe(3);
  });
});
