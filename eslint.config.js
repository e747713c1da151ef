import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { layering } from './eslint.layers.js';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'web/dist/**', 'data/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // a synchronous child call blocks the event loop, so no timer can end it:
    // each one carries its own `timeout` (a hang then fails, it never stalls a run)
    files: ['src/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'examples/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "CallExpression[callee.name=/^(spawnSync|execFileSync|execSync)$/]:not(:has(Property[key.name='timeout']))",
          message: 'a synchronous child call needs a `timeout` option',
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    ignores: ['test/support/run-sync.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['node:child_process', 'child_process'].map((name) => ({
            name,
            importNames: ['spawnSync', 'execFileSync', 'execSync'],
            message:
              'import it from test/support/run-sync.js: it has a timeout, so a hung child fails its test instead of stalling the whole run',
          })),
        },
      ],
    },
  },
  // the layering (docs/DEVELOPING.md): which part of the code may import which
  layering,
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
