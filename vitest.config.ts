import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // the watchdog names a stuck test file and fails the run (see its header)
    reporters: ['default', './test/support/watchdog-reporter.ts'],
  },
});
