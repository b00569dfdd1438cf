// ESLint flat config. Besides the recommended rules it makes the house's boundaries real
// (DESIGN.md, "Layout"): code that runs in a worker thread never imports main-thread code and
// the other way round; shared/ imports nothing thread-specific; adapters import no framework
// at module load (their peers are optional); process-wide keys live in shared/globals.ts.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/** Folders of main-thread code, as seen from a file two levels below src/ (src/x/thread/). */
const MAIN_SIDE = String.raw`^\.\./\.\./(monitor|adapters|sync-calls|report|zero-code|queue|telemetry)/|^\.\./\.\./(index|register|cli|testing|context|request-tag)\.js$`;

const restrict = (patterns, extra = {}) => [
  'error',
  { patterns: patterns.map(([regex, message]) => ({ regex, message, ...extra })) },
];

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', '**/node_modules/', 'test/fixtures/**/bundled*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 'latest', sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Fixtures and benchmarks sometimes need a bare function type or a require().
      '@typescript-eslint/no-unsafe-function-type': 'off',
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Named exports only (STYLE.md).' },
        {
          selector: "CallExpression[callee.object.name='Symbol'][callee.property.name='for'] > Literal[value=/^loopguard\\./]",
          message: 'Process-wide keys live in src/shared/globals.ts: use getGlobal/ensureGlobal/globalKey.',
        },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // Main-thread code starts worker entries by URL (shared/worker-url.ts), never by import.
    files: ['src/**/*.ts'],
    ignores: ['src/**/thread/**'],
    rules: {
      'no-restricted-imports': restrict([[String.raw`(^|/)thread/`, 'A worker entry is loaded by URL, not imported by main-thread code.']]),
    },
  },
  {
    // A pool thread's code: its own folder, the pool protocol and shared/ only.
    files: ['src/pool/thread/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict([
        [String.raw`^\.\./(main|marking)/`, 'Pool-thread code must not import main-thread pool code; put what both need in pool/protocol.ts.'],
        [MAIN_SIDE, 'Pool-thread code must not import main-thread code.'],
        [String.raw`^\.\./\.\./(pool|watchdog)/`, 'Pool-thread code must not import another boundary.'],
      ]),
    },
  },
  {
    // The watchdog thread's code: its own folder, the watchdog protocol and shared/ only.
    files: ['src/watchdog/thread/**/*.ts'],
    rules: {
      'no-restricted-imports': restrict([
        [MAIN_SIDE, 'Watchdog-thread code must not import main-thread code; put what both need in watchdog/protocol.ts or shared/.'],
        [String.raw`^\.\./\.\./(pool|watchdog)/`, 'Watchdog-thread code must not import another boundary.'],
      ]),
    },
  },
  {
    // Protocol modules are the whole contract of a boundary: they import nothing.
    files: ['src/*/protocol.ts'],
    rules: { 'no-restricted-imports': restrict([[String.raw`^\.`, 'A protocol module imports nothing of the project.']]) },
  },
  {
    // shared/ is loaded by the main thread and the watchdog (and the pool thread): nothing
    // thread-specific. Type-only imports are erased and may name a protocol's shapes.
    files: ['src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': restrict(
        [[String.raw`^\.\./(?!errors\.js$|types\.js$)`, 'shared/ imports only shared/, errors.ts and types.ts.']],
        { allowTypeImports: true },
      ),
    },
  },
  {
    // Frameworks are optional peers: an adapter may name their types, never load them.
    files: ['src/adapters/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: ['express', 'fastify', 'koa', 'hono', '@koa/router', '@hono/node-server'].map((name) => ({
            name,
            message: 'Adapters import no framework at module load (optional peer).',
            allowTypeImports: true,
          })),
          patterns: [{ group: ['hono/*', '@hono/*', 'express/*', 'fastify/*'], allowTypeImports: true }],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**', 'examples/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
