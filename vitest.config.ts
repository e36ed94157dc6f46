import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two cores: integration tests spawn real processes; keep the fan-out small.
    maxWorkers: 2,
    reporters: process.env.CI ? ['default'] : ['default'],
    // Marks the run; at its end, any process a test started that is still alive is killed and
    // fails the run, named with the test that started it.
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/each-file.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'embedded', include: ['test/**/*.test.ts'] },
      },
      {
        // The same gateway API tests against the distributed wiring: real NATS JetStream and a
        // real Redis (test/gateway/harness.ts; test/support/services.ts says where they are found).
        extends: true,
        test: { name: 'gateway-distributed', include: ['test/gateway/**/*.test.ts'], env: { FLOW_TEST_MODE: 'distributed' } },
      },
    ],
  },
});
