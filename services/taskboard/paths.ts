import { constants } from 'node:fs';
import { lstat, open, realpath } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { z } from 'zod';

/**
 * Where the task board reads: Claude Code's task files (`<tasks>/<session>/<task>.json`) and its
 * session logs (`<projects>/<project>/<session>.jsonl`), seed 003's layout.
 */
export interface TaskboardDirs {
  tasksDir: string;
  projectsDir: string;
}

/**
 * FLOW_TASKS_DIR / FLOW_PROJECTS_DIR, else seed 003's own names (TASKS_DIR / PROJECTS_DIR), so a
 * flow-server setup works unchanged; an empty value counts as unset.
 */
export function taskboardDirs(env: NodeJS.ProcessEnv = process.env): TaskboardDirs {
  const pick = (...names: string[]) => names.map((n) => env[n]).find((v) => v !== undefined && v !== '');
  return {
    tasksDir: resolve(pick('FLOW_TASKS_DIR', 'TASKS_DIR') ?? join(homedir(), '.claude', 'tasks')),
    projectsDir: resolve(pick('FLOW_PROJECTS_DIR', 'PROJECTS_DIR') ?? join(homedir(), '.claude', 'projects')),
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

/** Where the board says what it skipped and why: a line in the log, not an error. */
export type Note = (message: string) => void;

/**
 * One of the board's roots (the tasks or the projects directory), and the only way the board
 * reads under it. A path counts as inside when its real path is, after every link is resolved:
 * a link that stays inside is followed, one that leads out is skipped (and noted once). The
 * root may itself be a link (a moved ~/.claude): it is the root's real path that bounds.
 */
export class Root {
  private readonly noted = new Set<string>();

  constructor(
    readonly dir: string,
    private readonly note: Note = () => {},
  ) {}

  /** The real path of `path` if it is inside the root; null (noted once) if it leads out or nowhere. */
  async inside(path: string): Promise<string | null> {
    let realRoot: string;
    let real: string;
    try {
      realRoot = await realpath(this.dir);
      real = await realpath(path);
    } catch (err) {
      const link = await lstat(path).then((s) => s.isSymbolicLink(), () => false);
      if (link) this.skip(path, `it is a link that leads nowhere (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
      return null;
    }
    const rel = relative(realRoot, real);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
      this.skip(path, rel === '' ? `it resolves to ${this.dir} itself` : `it resolves to ${real}, outside ${this.dir}`);
      return null;
    }
    return real;
  }

  /**
   * The text of a regular file inside the root (at most `maxBytes`; a larger file is skipped),
   * or null. The real path is opened without following a link at its end (a file swapped for
   * one after the check is refused) and without blocking (a FIFO is not waited on).
   */
  async read(path: string, maxBytes: number, opts: { head?: boolean } = {}): Promise<string | null> {
    const real = await this.inside(path);
    if (!real) return null;
    let fh;
    try {
      fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch {
      return null;
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) {
        this.skip(path, 'it is not a regular file');
        return null;
      }
      if (st.size > maxBytes && !opts.head) {
        this.skip(path, `it is ${st.size} bytes, more than the ${maxBytes} a board file may have`);
        return null;
      }
      const buf = Buffer.alloc(Math.min(st.size, maxBytes));
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      return buf.subarray(0, bytesRead).toString('utf8');
    } catch {
      return null;
    } finally {
      await fh.close();
    }
  }

  /** Whether `path` is a directory itself, not a link to one (a session or project directory must be). */
  async isOwnDir(path: string): Promise<boolean> {
    const st = await lstat(path).catch(() => null);
    if (st?.isSymbolicLink()) this.skip(path, 'it is a link; the board reads directories, not links to them');
    return st?.isDirectory() === true;
  }

  skip(path: string, why: string): void {
    const line = `skipped ${path}: ${why}`;
    if (this.noted.has(line)) return;
    this.noted.add(line);
    this.note(line);
  }
}
