/**
 * The import-boundary rules of eslint.config.js catch a wrong import: each case lints a
 * one-line module as if it sat at `file`, with the project's own config.
 */
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const cwd = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({ cwd });

async function ruleIdsFor(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${cwd}/${file}` });
  return (result?.messages ?? []).map((message) => message.ruleId ?? message.message);
}

describe('the import boundaries', () => {
  it.each([
    ['src/pool/thread/probe.ts', "import { createPool } from '../main/pool.js';\nexport const x = createPool;"],
    ['src/pool/thread/probe.ts', "import { startMonitor } from '../../monitor/monitor.js';\nexport const x = startMonitor;"],
    ['src/watchdog/thread/probe.ts', "import { Reporter } from '../../monitor/reporter.js';\nexport const x = Reporter;"],
    ['src/monitor/probe.ts', "import { capture } from '../watchdog/thread/capture.js';\nexport const x = capture;"],
    ['src/pool/main/probe.ts', "import { serializeError } from '../thread/errors.js';\nexport const x = serializeError;"],
    ['src/pool/protocol.ts', "import { describeValue } from '../shared/validate.js';\nexport const x = describeValue;"],
  ])('refuses a thread-crossing import in %s', async (file, code) => {
    expect(await ruleIdsFor(file, code)).toContain('no-restricted-imports');
  });

  it('refuses a value import of main-thread code in shared/, but allows a type-only one', async () => {
    expect(await ruleIdsFor('src/shared/probe.ts', "import { Reporter } from '../monitor/reporter.js';\nexport const x = Reporter;")).toContain(
      '@typescript-eslint/no-restricted-imports',
    );
    expect(await ruleIdsFor('src/shared/probe.ts', "import type { FunctionDef } from '../pool/protocol.js';\nexport type X = FunctionDef;")).toEqual([]);
  });

  it('refuses loading a framework at module load in an adapter, but allows its types', async () => {
    expect(await ruleIdsFor('src/adapters/probe.ts', "import express from 'express';\nexport const x = express;")).toContain(
      '@typescript-eslint/no-restricted-imports',
    );
    expect(await ruleIdsFor('src/adapters/probe.ts', "import type { Request } from 'express';\nexport type X = Request;")).toEqual([]);
  });

  it('refuses a process-wide key outside shared/globals.ts and a default export', async () => {
    expect(await ruleIdsFor('src/monitor/probe.ts', "export const k = Symbol.for('loopguard.v1.monitor');")).toContain('no-restricted-syntax');
    expect(await ruleIdsFor('src/monitor/probe.ts', 'export default 1;')).toContain('no-restricted-syntax');
  });

  it('accepts the imports the layout allows', async () => {
    expect(await ruleIdsFor('src/pool/thread/probe.ts', "import { setGlobal } from '../../shared/globals.js';\nimport type { TaskBatch } from '../protocol.js';\nexport const x = setGlobal; export type Y = TaskBatch;")).toEqual([]);
  });
});
