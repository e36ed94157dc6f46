import { rmSync } from 'node:fs';
import { writeFileAtomic } from './fs-atomic.js';
import type { ToolPaths } from './paths.js';
import { devRootsKey, readRunCache, stamp, type Guard, type RunCacheFile } from './run-cache.js';
import type { RunPlan } from './run-plan.js';

/** The writing half of the run cache, kept apart so the reading half stays small. */
export function rememberPlan(paths: ToolPaths, name: string, plan: RunPlan, guardFiles: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  const guards = guardFiles.map(stamp).filter((g): g is Guard => g !== null);
  const key = devRootsKey(paths, env);
  const current = readRunCache(paths);
  const file: RunCacheFile = current && current.devRoots === key ? current : { version: 1, devRoots: key, entries: {} };
  file.entries[name] = { plan, guards };
  try {
    writeFileAtomic(paths.runCache, JSON.stringify(file));
  } catch {
    /* a cache that cannot be written only costs speed */
  }
}

/** Called whenever links, installs or the index change. */
export function forgetPlans(paths: ToolPaths): void {
  rmSync(paths.runCache, { force: true });
}
