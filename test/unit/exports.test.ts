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
  'loopguard/http': ['wrap', 'shed', 'enqueue', 'jobStatus'],
  'loopguard/express': ['loopguard', 'offload', 'shed', 'enqueue', 'jobStatus'],
  'loopguard/fastify': ['loopguard', 'offload', 'shed', 'enqueue', 'jobStatus'],
  'loopguard/koa': ['loopguard', 'offload', 'shed', 'enqueue', 'jobStatus'],
  'loopguard/hono': ['loopguard', 'offload', 'shed', 'enqueue', 'jobStatus'],
  'loopguard/nestjs': ['LoopguardModule', 'shed', 'enqueue', 'jobStatus'],
  'loopguard/prometheus': ['prometheusMetrics'],
  'loopguard/otel': ['otelMetrics'],
  'loopguard/queue': [
    'createQueue', 'Queue', 'startWorker', 'UnknownJobFunctionError', 'PayloadTooLargeError', 'JobCancelledError',
    'JobWaitTimeoutError', 'QueueClosedError', 'JobNotFoundError', 'QueuePeerMissingError',
  ],
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

  it('recognises an error of one build with instanceof against the other build\'s classes', () => {
    // Two builds are two copies of each class: instanceof reads a shared brand, not the prototype.
    const script = `
      const cjs = require('loopguard');
      import('loopguard').then((esm) => {
        const fromCjs = new cjs.TaskTimeoutError(5); const fromEsm = new esm.PoolClosedError();
        let optionError; try { esm.createPool({ maxThreads: -1 }); } catch (e) { optionError = e; }
        console.log(JSON.stringify({
          cjsInEsm: [fromCjs instanceof esm.TaskTimeoutError, fromCjs instanceof esm.LoopguardError],
          esmInCjs: [fromEsm instanceof cjs.PoolClosedError, fromEsm instanceof cjs.LoopguardError],
          notOther: [fromCjs instanceof esm.PoolClosedError, fromEsm instanceof cjs.TaskTimeoutError],
          option: [optionError instanceof cjs.LoopguardError, optionError instanceof cjs.InvalidOptionRangeError,
            optionError instanceof RangeError, optionError instanceof cjs.InvalidOptionTypeError, optionError.code],
          plain: [new Error('x') instanceof cjs.LoopguardError, null instanceof esm.LoopguardError,
            Object.assign(new Error('x'), { code: 'ERR_LOOPGUARD_POOL_CLOSED' }) instanceof esm.LoopguardError],
          name: fromCjs.name,
        }));
      });`;
    const output = execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' });
    expect(JSON.parse(output)).toEqual({
      cjsInEsm: [true, true],
      esmInCjs: [true, true],
      notOther: [false, false],
      option: [true, true, true, false, 'ERR_LOOPGUARD_INVALID_OPTION'],
      plain: [false, false, false],
      name: 'TaskTimeoutError',
    });
  });
});
