import { defineConfig } from 'vitest/config';

// The release tests (npm run test:release, after npm run release): they unpack the
// artifacts into chroots and run them, one file at a time. Not part of `npm test`.
export default defineConfig({
  test: {
    include: ['test/release/**/*.spec.ts'],
    reporters: ['default', './test/support/ci-skip-guard.ts'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 1, minForks: 1 } },
  },
});
