import { readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { SessionMeta } from './metadata.js';
import { isName, realInside } from './paths.js';

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

const NOTE_HEADER = '\n\n---\n\n#### [Note added by user]\n\n';

/** `<id>.json` with a valid id → the id; anything else (temp files, dotfiles) → null. */
export function taskIdOfFile(file: string): string | null {
  if (!file.endsWith('.json')) return null;
  const id = file.slice(0, -'.json'.length);
  return isName(id) ? id : null;
}

async function readTask(path: string): Promise<Task | null> {
  try {
    const parsed = TaskSchema.safeParse(JSON.parse(await readFile(path, 'utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    // Half-written or not JSON: the next change event brings the finished file.
    return null;
  }
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

export class TaskFiles {
  constructor(readonly tasksDir: string) {}

  async sessionIds(): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(this.tasksDir, { withFileTypes: true });
    } catch {
      return [];
    }
    return entries.filter((e) => e.isDirectory() && isName(e.name)).map((e) => e.name);
  }

  /** The session's directory, resolved and checked to be inside the tasks directory. */
  private sessionDir(sessionId: string): string {
    if (!isName(sessionId)) throw new TaskboardError('invalid', `${JSON.stringify(sessionId)} is not a session id`);
    const real = realInside(this.tasksDir, join(this.tasksDir, sessionId));
    if (!real) throw new TaskboardError('not_found', `no session ${sessionId}`);
    return real;
  }

  private taskFile(sessionId: string, taskId: string): string {
    if (!isName(taskId)) throw new TaskboardError('invalid', `${JSON.stringify(taskId)} is not a task id`);
    const dir = this.sessionDir(sessionId);
    const real = realInside(this.tasksDir, join(dir, `${taskId}.json`));
    if (!real) throw new TaskboardError('not_found', `no task ${taskId} in session ${sessionId}`);
    return real;
  }

  async sessionTasks(sessionId: string): Promise<Task[]> {
    const dir = this.sessionDir(sessionId);
    const tasks: Task[] = [];
    for (const file of await readdir(dir).catch(() => [] as string[])) {
      if (!taskIdOfFile(file)) continue;
      // Each file is checked like a requested one: a symlink out of the tree is skipped.
      const real = realInside(this.tasksDir, join(dir, file));
      const task = real ? await readTask(real) : null;
      if (task) tasks.push(task);
    }
    return tasks.sort(byId);
  }

  async sessions(meta: ReadonlyMap<string, SessionMeta>): Promise<SessionSummary[]> {
    const out: SessionSummary[] = [];
    for (const id of await this.sessionIds()) {
      const dir = join(this.tasksDir, id);
      let newest = 0;
      const counts = { taskCount: 0, completed: 0, inProgress: 0, pending: 0 };
      for (const task of await this.sessionTasks(id).catch(() => [] as Task[])) {
        counts.taskCount++;
        if (task.status === 'completed') counts.completed++;
        else if (task.status === 'in_progress') counts.inProgress++;
        else counts.pending++;
      }
      for (const file of await readdir(dir).catch(() => [] as string[])) {
        if (!taskIdOfFile(file)) continue;
        const s = await stat(join(dir, file)).catch(() => null);
        if (s) newest = Math.max(newest, s.mtimeMs);
      }
      if (newest === 0) newest = (await stat(dir).catch(() => null))?.mtimeMs ?? 0;
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
      for (const task of await this.sessionTasks(sessionId).catch(() => [] as Task[])) {
        out.push({ ...task, sessionId, sessionName: m?.customTitle ?? m?.slug ?? null, project: m?.projectPath ?? null });
      }
    }
    return out;
  }

  /** Appends a note to the description (seed 003's format), rewriting the file atomically. */
  async addNote(sessionId: string, taskId: string, note: string): Promise<Task> {
    const text = note.trim();
    if (!text) throw new TaskboardError('invalid', 'a note must not be empty');
    const file = this.taskFile(sessionId, taskId);
    const raw = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    const description = typeof raw.description === 'string' ? raw.description : '';
    raw.description = `${description}${NOTE_HEADER}${text}`;
    // A dotfile name the watcher and the listing ignore; rename replaces the task in one step.
    const tmp = join(file, '..', `.${taskId}.json.${process.pid}.tmp`);
    await writeFile(tmp, JSON.stringify(raw, null, 2));
    await rename(tmp, file);
    return TaskSchema.parse(raw);
  }

  /** Deletes a task unless another task of the session is blocked by it. */
  async deleteTask(sessionId: string, taskId: string): Promise<void> {
    const file = this.taskFile(sessionId, taskId);
    const blocked = (await this.sessionTasks(sessionId)).filter((t) => t.id !== taskId && t.blockedBy?.includes(taskId));
    if (blocked.length) throw new TaskboardError('conflict', `task ${taskId} blocks ${blocked.map((t) => t.id).join(', ')}; delete or unblock those first`);
    await unlink(file);
  }
}
