import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, resolve, sep, isAbsolute } from 'node:path';
import { z } from 'zod';

/**
 * Where the task board reads: Claude Code's task files (`<tasks>/<session>/<task>.json`) and its
 * session logs (`<projects>/<project>/<session>.jsonl`), seed 003's layout.
 */
export interface TaskboardDirs {
  tasksDir: string;
  projectsDir: string;
}

export function taskboardDirs(env: NodeJS.ProcessEnv = process.env): TaskboardDirs {
  return {
    tasksDir: resolve(env.FLOW_TASKS_DIR ?? join(homedir(), '.claude', 'tasks')),
    projectsDir: resolve(env.FLOW_PROJECTS_DIR ?? join(homedir(), '.claude', 'projects')),
  };
}

/**
 * Session and task ids name a directory and a file. Letters, digits, "-" and "_" only (Claude
 * Code's are UUIDs and small numbers): no ".", no separator, so no id can leave the directory.
 * The same shape as a stream id's name, so `taskboard:<session>` is a valid stream id.
 */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
export const SessionIdSchema = z.string().regex(NAME, 'a session id is letters, digits, "-" or "_" (at most 128)');
export const TaskIdSchema = z.string().regex(NAME, 'a task id is letters, digits, "-" or "_" (at most 128)');

export function isName(s: string): boolean {
  return NAME.test(s);
}

/**
 * The real path of `path` if it is inside the real `root`, else null. Checked after resolving
 * symlinks: a task file that is a link to ~/.ssh/id_rsa is outside, whatever its name says.
 */
export function realInside(root: string, path: string): string | null {
  let realRoot: string;
  let real: string;
  try {
    realRoot = realpathSync(root);
    real = realpathSync(path);
  } catch {
    return null;
  }
  const rel = relative(realRoot, real);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) && !rel.split(sep).includes('..') ? real : null;
}
