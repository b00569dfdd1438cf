import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { SummaryReporter } from './test/summary-reporter.js';

const dist = (file: string) => fileURLToPath(new URL(`./dist/${file}`, import.meta.url));

// Tests exercise the package as users get it: `loopguard` and its subpaths resolve to the
// built dist/ (npm test builds first), loaded natively by Node rather than transformed,
// so the worker entries, import.meta.url and stack frames are the real ones.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^loopguard$/, replacement: dist('index.js') },
      { find: /^loopguard\/(testing|register|http|express|fastify|koa|hono|prometheus|otel|nestjs|queue)$/, replacement: dist('$1.js') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    reporters: ['default', new SummaryReporter()],
    // One embedded PostgreSQL for the run's queue tests (started only when the run has them).
    globalSetup: ['./test/queue/postgres.global.ts'],
    // Each test file in its own child process: the monitor's inspector session attaches to
    // the main thread of that process, which a worker-thread pool would not give us.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    server: { deps: { external: [/\/dist\//, /\/test\/fixtures\//] } },
    // A noisy 2-core machine: timing tests must not fight each other for the CPU.
    fileParallelism: false,
  },
});
