import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two cores: integration tests spawn real processes; keep the fan-out small.
    maxWorkers: 2,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
