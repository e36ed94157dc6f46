import { relative } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { stopStartedFlows } from './flow-process.js';
import { TEST_MARK } from './global-setup.js';

/**
 * Run around every test file (vitest.config.ts `setupFiles`).
 *
 * The running test is named in the environment, so a process a test starts carries it and the
 * global teardown (test/support/global-setup.ts) can say which test left a process behind.
 *
 * After the file's own cleanup, any `f` it started that still runs is stopped (SIGTERM, so it
 * stops its children): one still starting when a `beforeAll` timed out has no handle in the test.
 */
const file = () => relative(process.cwd(), expect.getState().testPath ?? '?');

beforeAll(() => {
  process.env[TEST_MARK] = file();
});

beforeEach(() => {
  process.env[TEST_MARK] = `${file()} > ${expect.getState().currentTestName ?? '?'}`;
});

afterAll(async () => {
  await stopStartedFlows();
}, 30_000);
