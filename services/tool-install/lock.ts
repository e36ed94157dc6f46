import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ToolError } from './errors.js';
import type { ToolPaths } from './paths.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Serialises changes to links/, installs/ and index.json between `f` processes (two installs at
 * once would otherwise lose one's index update). A lock left by a dead process is taken over.
 */
export async function withToolLock<T>(paths: ToolPaths, fn: () => Promise<T>, waitMs = 60_000): Promise<T> {
  mkdirSync(dirname(paths.lock), { recursive: true });
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(paths.lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder = NaN;
      try {
        holder = Number(readFileSync(paths.lock, 'utf8'));
      } catch {
        /* released meanwhile */
      }
      if (Number.isInteger(holder) && holder > 0 && !alive(holder)) {
        rmSync(paths.lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new ToolError(`another f is changing installed tools (pid ${holder}, lock ${paths.lock}); try again when it is done`);
      await sleep(50);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(paths.lock, { force: true });
  }
}
