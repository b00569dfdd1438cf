import { beforeAll, describe, expect, it } from 'vitest';
import { runFixture } from './run-fixture.js';

interface IdentityResult {
  installed: {
    names: string[];
    allReplaced: boolean;
    keepName: string[];
    keepLength: string[];
    realpathNative: boolean;
    esmReadFileSync: boolean;
    esmOthers: boolean;
    works: boolean;
  };
  restored: { allRestored: boolean; esmReadFileSync: boolean; esmPbkdf2Sync: boolean };
}

interface HookRecord {
  label: string;
  seen: string[];
  error?: string;
}

describe('wrapping the blocking APIs', () => {
  let identity: IdentityResult;
  let hooks: HookRecord[];
  beforeAll(async () => {
    [identity, hooks] = await Promise.all([
      runFixture<IdentityResult>('identity.mjs'),
      runFixture<HookRecord[]>('hooks.mjs'),
    ]);
  });

  it('wraps every *Sync function of fs, child_process, zlib and crypto, key generation included', async () => {
    const { installed } = identity;
    expect(installed.names).toEqual(
      expect.arrayContaining([
        'fs.readFileSync',
        'fs.writeFileSync',
        'fs.existsSync',
        'child_process.execSync',
        'child_process.execFileSync',
        'child_process.spawnSync',
        'zlib.gzipSync',
        'zlib.brotliCompressSync',
        'crypto.pbkdf2Sync',
        'crypto.scryptSync',
        'crypto.generateKeyPairSync',
        'crypto.generateKeySync',
        'crypto.generatePrimeSync',
      ]),
    );
    expect(installed.names.every((name) => name.endsWith('Sync'))).toBe(true);
    expect(installed.allReplaced).toBe(true);
  });

  it('keeps each function name, length and extra properties such as realpathSync.native', async () => {
    const { installed } = identity;
    expect(installed.keepName).toEqual([]);
    expect(installed.keepLength).toEqual([]);
    expect(installed.realpathNative).toBe(true);
    expect(installed.works).toBe(true);
  });

  it('makes ESM named imports imported before installing see the wrappers', async () => {
    const { installed } = identity;
    expect(installed.esmReadFileSync).toBe(true);
    expect(installed.esmOthers).toBe(true);
  });

  it('restores every original function and ESM named import on uninstall', async () => {
    const { restored } = identity;
    expect(restored).toEqual({ allRestored: true, esmReadFileSync: true, esmPbkdf2Sync: true });
  });

  it('calls onEnter and onExit once around a real call, even when the API calls another wrapped one', async () => {
    const records = hooks;
    expect(records.find((r) => r.label === 'binary read')).toEqual({
      label: 'binary read',
      seen: ['enter fs.readFileSync', 'exit fs.readFileSync'],
    });
  });

  it('calls onExit when the call throws, and the error reaches the caller', async () => {
    const records = hooks;
    expect(records.find((r) => r.label === 'missing file')).toEqual({
      label: 'missing file',
      seen: ['enter fs.readFileSync', 'exit fs.readFileSync'],
      error: 'ENOENT',
    });
  });

  it('calls no hook after uninstall', async () => {
    const records = hooks;
    expect(records.find((r) => r.label === 'existsSync')?.seen).toEqual(['enter fs.existsSync', 'exit fs.existsSync']);
    expect(records.find((r) => r.label === 'after uninstall')?.seen).toEqual([]);
  });
});
