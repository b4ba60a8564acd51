import { defineConfig } from 'vitest/config';

// In CI, a JSON report as well, from which .ci/run prints its final "N passed, N failed" line.
const ciReport = process.env.INDIGO_TEST_REPORT;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ciReport ? ['default', ['json', { outputFile: ciReport }]] : ['default'],
  },
});
