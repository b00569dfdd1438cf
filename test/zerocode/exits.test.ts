// After SIGINT/SIGTERM, a process that is still alive exitTimeout ms later is told why.
import { describe, expect, it } from 'vitest';
import { cleanEnv, fixture, registerEsm, run } from './helpers.js';

const node = process.execPath;

describe('exit watchdog', () => {
  it('lists the handles that keep a process alive after SIGTERM', async () => {
    const env = cleanEnv({ LOOPGUARD_EXIT_TIMEOUT: '300', LOOPGUARD_LOG: 'false' });
    const app = run(node, ['--import', registerEsm, fixture('stubborn.mjs')], env);
    await app.nextJson();
    app.child.kill('SIGTERM');
    await app.stderrIncludes('LOOPGUARD_TRACK_HANDLES=true');
    app.child.kill('SIGKILL');
    await app.exited;
    expect(app.stdout).toContain('got SIGTERM, staying');
    expect(app.stderr).toContain('loopguard: the process is still running 300 ms after SIGTERM');
    expect(app.stderr).toMatch(/loopguard: 1 active handle\(s\) keep the process alive: Timeout/);
    expect(app.stderr).toContain('LOOPGUARD_TRACK_HANDLES=true');
  });

  it('shows where each handle was created when handle tracking is on', async () => {
    const env = cleanEnv({ LOOPGUARD_EXIT_TIMEOUT: '300', LOOPGUARD_TRACK_HANDLES: 'true', LOOPGUARD_LOG: 'false' });
    const app = run(node, ['--import', registerEsm, fixture('stubborn.mjs')], env);
    await app.nextJson();
    app.child.kill('SIGTERM');
    await app.stderrIncludes('stubborn.mjs:2');
    app.child.kill('SIGKILL');
    await app.exited;
    // why-is-node-running's report: the handle's type and the line that created it.
    expect(app.stderr).toContain('# Timeout');
    expect(app.stderr).toMatch(/stubborn\.mjs:2\s+- const keepAlive = setInterval/);
  });

  it('explainHandles() lists the live handles on demand and the process still exits', async () => {
    const app = run(node, [fixture('explain.mjs')], cleanEnv());
    expect(await app.exited).toEqual({ code: 0, signal: null });
    const line = app.stderr.split('\n').find((text) => text.includes('keep the process alive')) ?? '';
    expect(line).toMatch(/^loopguard: \d+ active handle\(s\) keep the process alive: /);
    expect(line).toContain('TCPServerWrap');
    expect(line).toContain('Timeout');
  });
});
