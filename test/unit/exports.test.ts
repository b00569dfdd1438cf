import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

// What each public entry must export, by name. Checked against the built package exactly as
// users load it: by package name (self-reference through the exports map), via import and require.
const entries: Record<string, string[]> = {
  loopguard: [
    'startMonitor', 'withContext', 'guard', 'currentContext', 'createPool', 'ThreadPool', 'threaded',
    'runInThreadpool', 'transfer', 'explainHandles', 'LoopguardError', 'InvalidOptionTypeError',
    'InvalidOptionRangeError', 'FunctionNotPortableError', 'TaskTimeoutError', 'PoolQueueFullError',
    'WorkerCrashedError', 'PoolClosedError', 'BlockingCallError', 'BlockedError',
  ],
  'loopguard/testing': ['expectNoBlock', 'BlockedError'],
  'loopguard/http': ['wrap'],
  'loopguard/express': ['loopguard', 'offload'],
  'loopguard/fastify': ['loopguard', 'offload'],
  'loopguard/koa': ['loopguard', 'offload'],
  'loopguard/hono': ['loopguard', 'offload'],
};

function exportsVia(kind: 'import' | 'require', specifier: string): string[] {
  const script =
    kind === 'import'
      ? `import(${JSON.stringify(specifier)}).then((m) => console.log(JSON.stringify(Object.keys(m))))`
      : `console.log(JSON.stringify(Object.keys(require(${JSON.stringify(specifier)}))))`;
  const output = execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' });
  return JSON.parse(output) as string[];
}

describe('the built package', () => {
  for (const [specifier, names] of Object.entries(entries)) {
    for (const kind of ['import', 'require'] as const) {
      it(`${kind}('${specifier}') gives every public name`, () => {
        expect(exportsVia(kind, specifier)).toEqual(expect.arrayContaining(names));
      });
    }
  }

  it('has no default export on the root entry', () => {
    expect(exportsVia('import', 'loopguard')).not.toContain('default');
  });

  it('shares one class identity for errors across the ESM and CJS builds only by code, not by instance', () => {
    // Two builds are two copies of each class; users should branch on `code`, which both share.
    const script = `
      const cjs = require('loopguard');
      import('loopguard').then((esm) => {
        const a = new cjs.PoolClosedError(); const b = new esm.PoolClosedError();
        console.log(JSON.stringify([a.code, b.code, a instanceof cjs.LoopguardError, b instanceof esm.LoopguardError]));
      });`;
    const output = execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' });
    expect(JSON.parse(output)).toEqual(['ERR_LOOPGUARD_POOL_CLOSED', 'ERR_LOOPGUARD_POOL_CLOSED', true, true]);
  });
});
