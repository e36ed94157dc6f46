import { randomBytes } from 'node:crypto';
import { lstat, readdir, realpath, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { SessionMeta } from './metadata.js';
import { isName, Root, type Note } from './paths.js';

/**
 * A Claude Code task file. Only the fields the board uses are checked; everything else the
 * agent wrote is kept as it is (a note rewrites the file and must not lose fields).
 */
export const TaskSchema = z.looseObject({
  id: z.union([z.string(), z.number()]).transform(String),
  subject: z.string().optional(),
  description: z.string().optional(),
  activeForm: z.string().optional(),
  status: z.string().optional(),
  blocks: z.array(z.union([z.string(), z.number()]).transform(String)).optional(),
  blockedBy: z.array(z.union([z.string(), z.number()]).transform(String)).optional(),
});
export type Task = z.infer<typeof TaskSchema>;

export interface SessionSummary {
  id: string;
  name: string | null;
  slug: string | null;
  project: string | null;
  description: string | null;
  gitBranch: string | null;
  taskCount: number;
  completed: number;
  inProgress: number;
  pending: number;
  createdAt: string | null;
  modifiedAt: string;
}

export type TaskWithSession = Task & { sessionId: string; sessionName: string | null; project: string | null };

export class TaskboardError extends Error {
  constructor(
    readonly code: 'not_found' | 'invalid' | 'conflict',
    message: string,
  ) {
    super(message);
  }
}

/** Task files are a few KB; one far larger is not one to parse on every board request. */
const MAX_TASK_BYTES = 4 * 1024 * 1024;

const NOTE_HEADER = '\n\n---\n\n#### [Note added by user]\n\n';

/** `<id>.json` with a valid id → the id; anything else (temp files, dotfiles) → null. */
export function taskIdOfFile(file: string): string | null {
  if (!file.endsWith('.json')) return null;
  const id = file.slice(0, -'.json'.length);
  return isName(id) ? id : null;
}

type Parsed = { ok: true; raw: Record<string, unknown> } | { ok: false; why: string };

function parseTask(text: string): Parsed {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, why: `it is not JSON (${(err as Error).message})` };
  }
  const checked = TaskSchema.safeParse(raw);
  if (!checked.success) return { ok: false, why: `it is not a task (${checked.error.issues.map((i) => `${i.path.join('.') || 'the file'}: ${i.message}`).join('; ')})` };
  return { ok: true, raw: raw as Record<string, unknown> };
}

/** A task file that cannot be read as a task: a 400 that names it (seed 003: a JSON error is 400). */
function corrupt(path: string, why: string): TaskboardError {
  return new TaskboardError('invalid', `the task file ${path} is corrupt: ${why}; fix or delete it (a file an agent is still writing is whole again at its next change)`);
}

/** Numeric ids in numeric order (2 before 10), others after, by name. */
function byId(a: Task, b: Task): number {
  const na = Number(a.id);
  const nb = Number(b.id);
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  if (Number.isFinite(na)) return -1;
  if (Number.isFinite(nb)) return 1;
  return a.id.localeCompare(b.id);
}

/**
 * The task files under the tasks directory. Reads follow a link only while it stays inside the
 * directory; writes and deletes never go through one: a session is a directory of its own (not
 * a link to one), a delete removes the session's entry (a link is removed, never its target),
 * and a note is refused on a task that is a link, since it would change the task it points to.
 */
export class TaskFiles {
  private readonly root: Root;

  constructor(
    readonly tasksDir: string,
    note?: Note,
  ) {
    this.root = new Root(tasksDir, note);
  }

  async sessionIds(): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(this.tasksDir, { withFileTypes: true });
    } catch {
      return [];
    }
    for (const e of entries) if (e.isSymbolicLink() && isName(e.name)) this.root.skip(join(this.tasksDir, e.name), 'a session is a directory, not a link to one');
    return entries.filter((e) => e.isDirectory() && isName(e.name)).map((e) => e.name);
  }

  /** The session's directory by its real path: a directory of its own inside the tasks directory. */
  private async sessionDir(sessionId: string): Promise<string> {
    if (!isName(sessionId)) throw new TaskboardError('invalid', `${JSON.stringify(sessionId)} is not a session id`);
    const dir = join(this.tasksDir, sessionId);
    const real = (await this.root.isOwnDir(dir)) ? await this.root.inside(dir) : null;
    if (!real) throw new TaskboardError('not_found', `no session ${sessionId}`);
    return real;
  }

  /** The session's entry for a task, and whether that entry is a link (one inside the tasks directory). */
  private async taskEntry(sessionId: string, taskId: string): Promise<{ entry: string; link: boolean }> {
    if (!isName(taskId)) throw new TaskboardError('invalid', `${JSON.stringify(taskId)} is not a task id`);
    const entry = join(await this.sessionDir(sessionId), `${taskId}.json`);
    const st = await lstat(entry).catch(() => null);
    const usable = st?.isFile() || (st?.isSymbolicLink() && (await this.root.inside(entry)) !== null);
    if (!st || !usable) throw new TaskboardError('not_found', `no task ${taskId} in session ${sessionId}`);
    return { entry, link: st.isSymbolicLink() };
  }

  /**
   * The session's tasks. A corrupt file fails the request with a 400 naming it; the board-wide
   * views (`lenient`) skip it with a note instead, so one bad file does not blank the board.
   */
  async sessionTasks(sessionId: string, opts: { lenient?: boolean } = {}): Promise<Task[]> {
    const dir = await this.sessionDir(sessionId);
    const tasks: Task[] = [];
    for (const file of await readdir(dir).catch(() => [] as string[])) {
      if (!taskIdOfFile(file)) continue;
      const path = join(dir, file);
      const text = await this.root.read(path, MAX_TASK_BYTES);
      if (text === null) continue;
      const parsed = parseTask(text);
      if (parsed.ok) tasks.push(TaskSchema.parse(parsed.raw));
      else if (opts.lenient) this.root.skip(join(this.tasksDir, sessionId, file), parsed.why);
      else throw corrupt(join(this.tasksDir, sessionId, file), parsed.why);
    }
    return tasks.sort(byId);
  }

  async sessions(meta: ReadonlyMap<string, SessionMeta>): Promise<SessionSummary[]> {
    const out: SessionSummary[] = [];
    for (const id of await this.sessionIds()) {
      const dir = join(this.tasksDir, id);
      let newest = 0;
      const counts = { taskCount: 0, completed: 0, inProgress: 0, pending: 0 };
      for (const task of await this.sessionTasks(id, { lenient: true }).catch(() => [] as Task[])) {
        counts.taskCount++;
        if (task.status === 'completed') counts.completed++;
        else if (task.status === 'in_progress') counts.inProgress++;
        else counts.pending++;
      }
      // The entries' own times (lstat): a link's target is not the session's, and may be outside.
      for (const file of await readdir(dir).catch(() => [] as string[])) {
        if (!taskIdOfFile(file)) continue;
        const s = await lstat(join(dir, file)).catch(() => null);
        if (s) newest = Math.max(newest, s.mtimeMs);
      }
      if (newest === 0) newest = (await lstat(dir).catch(() => null))?.mtimeMs ?? 0;
      const m = meta.get(id);
      out.push({
        id,
        name: m?.customTitle ?? m?.slug ?? null,
        slug: m?.slug ?? null,
        project: m?.projectPath ?? null,
        description: m?.description ?? null,
        gitBranch: m?.gitBranch ?? null,
        ...counts,
        createdAt: m?.created ?? null,
        modifiedAt: new Date(newest).toISOString(),
      });
    }
    return out.sort((a, b) => b.modifiedAt.localeCompare(a.modifiedAt));
  }

  async allTasks(meta: ReadonlyMap<string, SessionMeta>): Promise<TaskWithSession[]> {
    const out: TaskWithSession[] = [];
    for (const sessionId of await this.sessionIds()) {
      const m = meta.get(sessionId);
      for (const task of await this.sessionTasks(sessionId, { lenient: true }).catch(() => [] as Task[])) {
        out.push({ ...task, sessionId, sessionName: m?.customTitle ?? m?.slug ?? null, project: m?.projectPath ?? null });
      }
    }
    return out;
  }

  /** Appends a note to the description (seed 003's format), rewriting the file atomically. */
  async addNote(sessionId: string, taskId: string, note: string): Promise<Task> {
    const text = note.trim();
    if (!text) throw new TaskboardError('invalid', 'a note must not be empty');
    const { entry, link } = await this.taskEntry(sessionId, taskId);
    const linkedTo = async () => new TaskboardError('conflict', `task ${taskId} of session ${sessionId} is a link to ${await realpath(entry).catch(() => 'another file')}; Flow does not write through links: add the note to the task it points to`);
    if (link) throw await linkedTo();
    // Read without following a link: an entry swapped for one since the check is refused.
    const current = await this.root.read(entry, MAX_TASK_BYTES);
    if (current === null) {
      if ((await lstat(entry).catch(() => null))?.isSymbolicLink()) throw await linkedTo();
      throw new TaskboardError('not_found', `no task ${taskId} in session ${sessionId}`);
    }
    const parsed = parseTask(current);
    if (!parsed.ok) throw corrupt(join(this.tasksDir, sessionId, `${taskId}.json`), parsed.why);
    const raw = parsed.raw;
    const description = typeof raw.description === 'string' ? raw.description : '';
    raw.description = `${description}${NOTE_HEADER}${text}`;
    // A dotfile name the watcher and the listing ignore, created exclusively (never an existing
    // file or link); rename replaces the session's entry in one step and never follows a link.
    const tmp = join(entry, '..', `.${taskId}.json.${randomBytes(6).toString('hex')}.tmp`);
    await writeFile(tmp, JSON.stringify(raw, null, 2), { flag: 'wx' });
    try {
      await rename(tmp, entry);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
    return TaskSchema.parse(raw);
  }

  /** Deletes a task unless another task of the session is blocked by it; a link is removed, never its target. */
  async deleteTask(sessionId: string, taskId: string): Promise<void> {
    const { entry } = await this.taskEntry(sessionId, taskId);
    // Lenient: deleting a corrupt task (or one next to it) is how the user repairs the session.
    const blocked = (await this.sessionTasks(sessionId, { lenient: true })).filter((t) => t.id !== taskId && t.blockedBy?.includes(taskId));
    if (blocked.length) throw new TaskboardError('conflict', `task ${taskId} blocks ${blocked.map((t) => t.id).join(', ')}; delete or unblock those first`);
    await unlink(entry).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new TaskboardError('not_found', `no task ${taskId} in session ${sessionId}`);
      throw err;
    });
  }
}
