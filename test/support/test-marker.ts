import { relative } from 'node:path';
import { beforeAll, beforeEach, expect } from 'vitest';
import { TEST_MARK } from './global-setup.js';

/**
 * Names the running test in the environment, so a process a test starts carries it and the
 * global teardown (test/support/global-setup.ts) can say which test left a process behind.
 */
const file = () => relative(process.cwd(), expect.getState().testPath ?? '?');

beforeAll(() => {
  process.env[TEST_MARK] = file();
});

beforeEach(() => {
  process.env[TEST_MARK] = `${file()} > ${expect.getState().currentTestName ?? '?'}`;
});
