import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isIgnored } from '../../src/shared/ignore.js';
import { parseStack } from '../../src/shared/stack-text.js';
import { installSyncCalls } from '../../src/sync-calls/install.js';
import type { BlockEvent } from '../../src/types.js';

describe('parseStack', () => {
  it('reads named, anonymous, async, constructor and file URL frames, innermost first', () => {
    const stack = [
      'Error: boom',
      '    at loadTemplate (/srv/app/views.js:12:5)',
      '    at file:///srv/app/server.mjs:30:7',
      '    at async Router.handle (/srv/app/node_modules/router/index.js:4:9)',
      '    at new Renderer (/srv/app/render.js:2:3)',
      '    at Object.<anonymous> (/srv/my app (copy)/main.js:1:1)',
    ].join('\n');
    expect(parseStack(stack)).toEqual([
      { function: 'loadTemplate', file: '/srv/app/views.js', line: 12, column: 5 },
      { function: '<anonymous>', file: '/srv/app/server.mjs', line: 30, column: 7 },
      { function: 'Router.handle', file: '/srv/app/node_modules/router/index.js', line: 4, column: 9 },
      { function: 'Renderer', file: '/srv/app/render.js', line: 2, column: 3 },
      { function: 'Object.<anonymous>', file: '/srv/my app (copy)/main.js', line: 1, column: 1 },
    ]);
  });

  it('places eval code at the eval call and skips frames without a position', () => {
    const stack = [
      'Error',
      '    at eval (eval at compile (/srv/app/tpl.js:8:11), <anonymous>:1:1)',
      '    at Array.map (<anonymous>)',
      '    at Promise.all (index 0)',
      '    at Module._compile (node:internal/modules/cjs/loader:1358:14)',
    ].join('\n');
    expect(parseStack(stack)).toEqual([
      { function: 'eval', file: '/srv/app/tpl.js', line: 8, column: 11 },
      { function: 'Module._compile', file: 'node:internal/modules/cjs/loader', line: 1358, column: 14 },
    ]);
  });

  it('reads a real stack with its first frame in this file', () => {
    const [top] = parseStack(new Error('here').stack ?? '');
    expect(top?.file).toMatch(/stack-and-options\.test\.ts$/);
    expect(top?.line).toBeGreaterThan(0);
  });

  it('returns no frames for text that is not a stack', () => {
    expect(parseStack('')).toEqual([]);
    expect(parseStack(undefined as unknown as string)).toEqual([]);
  });
});

describe('isIgnored', () => {
  const event: BlockEvent = {
    kind: 'sync-call',
    call: 'zlib.gzipSync',
    duration: 3,
    threshold: 100,
    startedAt: 0,
    cause: 'native',
    context: { method: 'POST', route: '/upload', path: '/upload' },
    stack: [
      { function: 'compress', file: 'C:\\srv\\node_modules\\packer\\index.js', line: 1, column: 1 },
      { function: 'Uploads.handle', file: 'C:\\srv\\routes.js', line: 9, column: 2 },
    ],
  };

  it('matches a frame function by its full or last-part name, and the API name', () => {
    expect(isIgnored({ functions: ['Uploads.handle'] }, event)).toBe(true);
    expect(isIgnored({ functions: ['handle'] }, event)).toBe(true);
    expect(isIgnored({ functions: ['zlib.gzipSync'] }, event)).toBe(true);
    expect(isIgnored({ functions: ['hand', 'zlib.gunzipSync'] }, event)).toBe(false);
  });

  it('matches files by substring with either slash, and by RegExp', () => {
    expect(isIgnored({ files: ['node_modules/packer/'] }, event)).toBe(true);
    expect(isIgnored({ files: [/routes\.js$/] }, event)).toBe(true);
    expect(isIgnored({ files: ['views.js'] }, event)).toBe(false);
  });

  it('matches routes against the route or the path; a global RegExp matches every time', () => {
    const pattern = /upload/g;
    expect(isIgnored({ routes: [pattern] }, event)).toBe(true);
    expect(isIgnored({ routes: [pattern] }, event)).toBe(true);
    expect(isIgnored({ routes: ['/download'] }, event)).toBe(false);
  });

  it('uses a predicate as it answers, and ignores nothing without rules', () => {
    expect(isIgnored((e) => e.duration > 2, event)).toBe(true);
    expect(isIgnored((e) => e.duration > 5, event)).toBe(false);
    expect(isIgnored(undefined, event)).toBe(false);
    expect(isIgnored({}, event)).toBe(false);
  });
});

describe('installSyncCalls', () => {
  // Its options come from the monitor, which validated them (test/monitor/options.test.ts).
  it('wraps nothing with no policy and no hooks', () => {
    const original = fs.readFileSync;
    const handle = installSyncCalls({ policy: false });
    expect(fs.readFileSync).toBe(original);
    handle.uninstall();
  });
});
