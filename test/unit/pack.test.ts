/**
 * `npm pack` of a fresh clone ships the build: prepack builds dist/ first. The clone is
 * simulated by a copy of what the build needs, without dist/, sharing node_modules.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const clone = mkdtempSync(join(tmpdir(), 'loopguard-pack-'));
afterAll(() => rmSync(clone, { recursive: true, force: true }));

describe('npm pack', () => {
  it('builds dist/ in a clone that has none, and ships it without sources or tests', () => {
    for (const entry of ['package.json', 'tsconfig.json', 'tsup.config.ts', 'README.md', 'LICENSE', 'src']) {
      cpSync(join(root, entry), join(clone, entry), { recursive: true });
    }
    symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'), 'dir');
    expect(existsSync(join(clone, 'dist'))).toBe(false);

    const output = execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: clone, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    // npm prints the prepack script's output before the JSON on stdout.
    const [packed] = JSON.parse(output.slice(output.indexOf('[\n'))) as [{ files: Array<{ path: string }> }];
    const files = packed.files.map((file) => file.path);

    for (const built of ['index.js', 'index.cjs', 'index.d.ts', 'index.d.cts', 'register.js', 'register.cjs', 'cli.js', 'pool-worker.js', 'watchdog-worker.js']) {
      expect(files).toContain(`dist/${built}`);
    }
    expect(files.filter((file) => file.startsWith('src/') || file.startsWith('test/'))).toEqual([]);
  }, 120_000);
});
