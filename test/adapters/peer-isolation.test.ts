/**
 * Frameworks are optional peer dependencies: an adapter may only import their types, so that
 * importing loopguard/express in a service without fastify, koa or hono installed still works.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('../fixtures/adapters/loaded-modules.mjs', import.meta.url));

function loadedBy(adapter: string, how: 'import' | 'require', alsoLoad?: string): { loaded: string[]; loopguardFiles: number } {
  const args = [fixture, adapter, how, ...(alsoLoad === undefined ? [] : [alsoLoad])];
  return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' })) as { loaded: string[]; loopguardFiles: number };
}

describe('importing one adapter loads no framework', () => {
  for (const adapter of ['express', 'fastify', 'koa', 'hono', 'http']) {
    for (const how of ['import', 'require'] as const) {
      it(`${how} loopguard/${adapter} in a fresh process loads no framework package`, () => {
        const result = loadedBy(adapter, how);
        expect(result.loopguardFiles).toBeGreaterThan(0);
        expect(result.loaded).toEqual([]);
      });
    }
  }

  for (const how of ['import', 'require'] as const) {
    it(`${how} loopguard in a fresh process loads neither prom-client nor @opentelemetry/api`, () => {
      const result = loadedBy('loopguard', how);
      expect(result.loopguardFiles).toBeGreaterThan(0);
      expect(result.loaded).toEqual([]);
    });
    it(`${how} loopguard/prometheus loads prom-client and no framework`, () => {
      // prom-client itself depends on @opentelemetry/api (exemplars): only frameworks must stay out.
      expect(loadedBy('prometheus', how).loaded.filter((name) => name !== '@opentelemetry/api')).toEqual(['prom-client']);
    });
    it(`${how} loopguard/otel loads @opentelemetry/api and no framework nor prom-client`, () => {
      expect(loadedBy('otel', how).loaded).toEqual(['@opentelemetry/api']);
    });
  }

  it('the check sees a framework that is loaded (control)', () => {
    expect(loadedBy('express', 'import', 'fastify').loaded).toContain('fastify');
  });
});
