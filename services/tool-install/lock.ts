import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tryLock } from '../host/pid-lock.js';
import { ToolError } from './errors.js';
import type { ToolPaths } from './paths.js';

/**
 * Serialises changes to links/, installs/ and index.json between `f` processes (two installs at
 * once would otherwise lose one's index update). A lock left by a dead process is taken over.
 */
export async function withToolLock<T>(paths: ToolPaths, fn: () => Promise<T>, waitMs = 60_000): Promise<T> {
  mkdirSync(dirname(paths.lock), { recursive: true });
  const deadline = Date.now() + waitMs;
  let lock = tryLock(paths.lock);
  while (!lock.taken) {
    if (Date.now() > deadline) {
      throw new ToolError(`another f is changing installed tools (pid ${lock.holder?.pid ?? '?'}, lock ${paths.lock}); try again when it is done`);
    }
    await sleep(50);
    lock = tryLock(paths.lock);
  }
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
