import { readFileSync, statSync } from 'node:fs';
import type { ToolPaths } from './paths.js';
import type { RunPlan } from './run-plan.js';

/** A file whose (mtime, size) must be as it was when the plan was made. */
export interface Guard {
  path: string;
  mtimeMs: number;
  size: number;
}
export interface Entry {
  plan: RunPlan;
  guards: Guard[];
}
export interface RunCacheFile {
  version: 1;
  /** Dev-root settings the entries were resolved under. */
  devRoots: string;
  entries: Record<string, Entry>;
}

/** What the dev-root setting depends on, read without parsing anything. */
export function devRootsKey(paths: ToolPaths, env: NodeJS.ProcessEnv = process.env): string {
  let configMtime = 0;
  try {
    configMtime = statSync(paths.config).mtimeMs;
  } catch {
    /* no config file */
  }
  return `${env.FLOW_CLI_DEV_ROOTS ?? '<default>'}|${configMtime}|${env.HOME ?? ''}`;
}

export function stamp(path: string): Guard | null {
  try {
    const st = statSync(path);
    return { path, mtimeMs: st.mtimeMs, size: st.size };
  } catch {
    return null;
  }
}

export function readRunCache(paths: ToolPaths): RunCacheFile | null {
  try {
    const file = JSON.parse(readFileSync(paths.runCache, 'utf8')) as RunCacheFile;
    return file && file.version === 1 && typeof file.entries === 'object' ? file : null;
  } catch {
    return null;
  }
}

/**
 * The plan `f cli` made last time for `name`, if every file it was made from is unchanged.
 * Anything unexpected is a miss: the full resolver runs and writes a new entry.
 */
export function cachedPlan(paths: ToolPaths, name: string, env: NodeJS.ProcessEnv = process.env): RunPlan | null {
  const file = readRunCache(paths);
  if (!file || file.devRoots !== devRootsKey(paths, env)) return null;
  const entry = file.entries[name];
  if (!entry || !Array.isArray(entry.guards)) return null;
  for (const g of entry.guards) {
    const now = stamp(g.path);
    if (!now || now.mtimeMs !== g.mtimeMs || now.size !== g.size) return null;
  }
  return entry.plan;
}

