/**
 * The exporter examples run as users run them (`node examples/<x>/server.mjs --once`): they
 * exit on their own with code 0 and show the blocking route by its pattern, never its path.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const sdkRuns = major > 22 || (major === 22 && minor >= 15);

function runExample(name: string): { status: number | null; stdout: string } {
  const result = spawnSync(process.execPath, [`examples/${name}/server.mjs`, '--once'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout };
}

describe('exporter examples', () => {
  it('prometheus: two blocks of GET /invoices/:id are counted by route pattern', () => {
    const { status, stdout } = runExample('prometheus');
    expect(status).toBe(0);
    expect(stdout).toContain('GET /invoices/42 -> 200');
    expect(stdout).toContain('loopguard_blocks_total{route="/invoices/:id",method="GET",cause="js"} 2');
    expect(stdout).toMatch(/^loopguard_eventloop_utilization \d/m);
  }, 70_000);

  it.skipIf(!sdkRuns)(
    `otel: the console exporter prints loopguard.block.duration with the route and the runtime metrics${sdkRuns ? '' : ` (skipped: the OpenTelemetry SDK 3 needs Node >= 22.15, this is ${process.version})`}`,
    () => {
      const { status, stdout } = runExample('otel');
      expect(status).toBe(0);
      expect(stdout).toContain("name: 'loopguard.block.duration'");
      expect(stdout).toContain("'http.route': '/invoices/:id'");
      expect(stdout).toContain("name: 'nodejs.eventloop.delay.p99'");
      expect(stdout).not.toContain('/invoices/42\'');
    },
    70_000,
  );
});
