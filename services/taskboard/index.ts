import { basename, dirname, relative, sep } from 'node:path';
import { liveSubjects } from '../bus/names.js';
import type { LiveBus } from '../bus/types.js';
import { MetadataCache, METADATA_MAX_AGE_MS } from './metadata.js';
import { isName, taskboardDirs, type TaskboardDirs } from './paths.js';
import { TaskFiles, taskIdOfFile } from './tasks.js';
import { DirWatcher, type FileChange } from './watcher.js';

export { taskboardDirs, SessionIdSchema, TaskIdSchema } from './paths.js';
export { TaskSchema, TaskboardError, type Task, type SessionSummary, type TaskWithSession } from './tasks.js';
export { readTheme, writeTheme, ThemeSchema, SetThemeBodySchema, type Theme } from './theme.js';

/**
 * Live subjects of the board. The gateway forwards `flow.live.taskboard.>` to /api/events and
 * /api/ws; the payloads are seed 003's messages, plus `stream` so a client can filter by
 * session (`stream=taskboard:<session>`).
 */
export const TASKBOARD_SUBJECTS = liveSubjects.taskboard;

export interface TaskUpdate {
  type: 'update';
  event: FileChange;
  sessionId: string;
  taskId: string;
  file: string;
  stream: string;
}

export interface TaskBoardOptions extends Partial<TaskboardDirs> {
  live: LiveBus;
  debounceMs?: number;
  metadataMaxAgeMs?: number;
  /** Watcher errors, and notes on what was skipped (links out of a root, FIFOs...): lines for the log. */
  onError?: (err: unknown) => void;
}

/**
 * The task board: Claude Code's task files and session logs, read on request, watched for
 * changes that become live messages. Nothing here is an actor or an event in the log: the
 * files are the source of truth and are written by another program.
 */
export class TaskBoard {
  readonly dirs: TaskboardDirs;
  readonly files: TaskFiles;
  readonly metadata: MetadataCache;
  private readonly tasksWatcher: DirWatcher;
  private readonly projectsWatcher: DirWatcher;
  private metadataTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: TaskBoardOptions) {
    const defaults = taskboardDirs();
    this.dirs = { tasksDir: opts.tasksDir ?? defaults.tasksDir, projectsDir: opts.projectsDir ?? defaults.projectsDir };
    const note = (message: string) => opts.onError?.(message);
    this.files = new TaskFiles(this.dirs.tasksDir, note);
    this.metadata = new MetadataCache(this.dirs.projectsDir, opts.metadataMaxAgeMs ?? METADATA_MAX_AGE_MS, Date.now, note);
    const debounceMs = opts.debounceMs ?? 100;
    this.tasksWatcher = new DirWatcher(this.dirs.tasksDir, {
      depth: 1,
      debounceMs,
      accept: (p) => this.taskOf(p) !== null,
      onChange: (kind, p) => this.taskChanged(kind, p),
      onError: opts.onError,
    });
    this.projectsWatcher = new DirWatcher(this.dirs.projectsDir, {
      depth: 1,
      debounceMs,
      accept: (p) => {
        const rel = relative(this.dirs.projectsDir, p).split(sep);
        return rel.length === 2 && (p.endsWith('.jsonl') || basename(p) === 'sessions-index.json');
      },
      onChange: () => this.metadataChanged(debounceMs),
      onError: opts.onError,
    });
  }

  /** Resolves once both watchers are in place (on the directories, or on their parents). */
  async start(): Promise<void> {
    await Promise.all([this.tasksWatcher.start(), this.projectsWatcher.start()]);
  }

  async close(): Promise<void> {
    if (this.metadataTimer) clearTimeout(this.metadataTimer);
    await Promise.all([this.tasksWatcher.close(), this.projectsWatcher.close()]);
  }

  get watching(): { tasks: DirWatcher['mode']; projects: DirWatcher['mode'] } {
    return { tasks: this.tasksWatcher.mode, projects: this.projectsWatcher.mode };
  }

  publishTheme(theme: unknown): void {
    this.opts.live.publish(TASKBOARD_SUBJECTS.theme, { type: 'theme', theme });
  }

  /** `<tasks>/<session>/<id>.json` → its ids; any other path → null. */
  private taskOf(path: string): { sessionId: string; taskId: string } | null {
    const rel = relative(this.dirs.tasksDir, path).split(sep);
    if (rel.length !== 2) return null;
    const [sessionId, file] = rel as [string, string];
    const taskId = taskIdOfFile(file);
    return isName(sessionId) && taskId ? { sessionId, taskId } : null;
  }

  private taskChanged(kind: FileChange, path: string): void {
    const ids = this.taskOf(path);
    if (!ids) return;
    const update: TaskUpdate = { type: 'update', event: kind, ...ids, file: basename(path), stream: `taskboard:${basename(dirname(path))}` };
    this.opts.live.publish(TASKBOARD_SUBJECTS.update, update);
  }

  /** Many logs change at once while an agent works: one message per window, not one per file. */
  private metadataChanged(windowMs: number): void {
    if (this.metadataTimer) return;
    this.metadataTimer = setTimeout(() => {
      this.metadataTimer = null;
      this.opts.live.publish(TASKBOARD_SUBJECTS.metadata, { type: 'metadata-update' });
    }, windowMs);
  }
}
