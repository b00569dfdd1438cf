import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// In your project `loopguard/testing` resolves from node_modules; here it is this repo's build.
const dist = (file) => fileURLToPath(new URL(`../../dist/${file}`, import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  resolve: { alias: [{ find: /^loopguard\/testing$/, replacement: dist('testing.js') }] },
  test: {
    include: ['*.test.mjs'],
    // One process per test file: the monitor's watchdog inspects that process's main thread.
    pool: 'forks',
    server: { deps: { external: [/\/dist\//] } },
  },
});
