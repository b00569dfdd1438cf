import { defineConfig } from 'tsup';

// Every public entry is built twice (ESM + CJS, each with its own .d.ts). The worker
// entries (watchdog, pool) are separate outputs resolved at run time relative to the
// module that starts them (see src/shared/worker-url.ts), so they load from either build.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    testing: 'src/testing.ts',
    register: 'src/register.ts',
    cli: 'src/cli.ts',
    http: 'src/adapters/http.ts',
    express: 'src/adapters/express.ts',
    fastify: 'src/adapters/fastify.ts',
    koa: 'src/adapters/koa.ts',
    hono: 'src/adapters/hono.ts',
    nestjs: 'src/adapters/nestjs.ts',
    prometheus: 'src/telemetry/prometheus.ts',
    otel: 'src/telemetry/otel.ts',
    queue: 'src/queue.ts',
    'watchdog-worker': 'src/watchdog/thread/entry.ts',
    'pool-worker': 'src/pool/thread/entry.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  splitting: true,
  shims: true,
  treeshake: true,
});
