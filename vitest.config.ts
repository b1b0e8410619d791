import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/cli/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/importer/**/*.test.ts', 'test/token/**/*.test.ts', 'test/bundle/**/*.test.ts'],
    // Native modules (better-sqlite3, argon2, pkcs11js) are safest in child processes.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
