import { watch, type FSWatcher } from 'chokidar';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export type FileChange = 'add' | 'change' | 'delete';

export interface DirWatcherOptions {
  /** Levels below the directory to watch (tasks: <session>/<task>.json → 1). */
  depth: number;
  /** Changes to one file within this window are reported once (default 100 ms). */
  debounceMs?: number;
  /** Files worth reporting; others (temp files, dotfiles) are not watched for events. */
  accept: (path: string) => boolean;
  onChange: (kind: FileChange, path: string) => void;
  onError?: (err: unknown) => void;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Merges what happened to one file inside the debounce window into what a reader should do:
 * add+change is still an add; add+delete is nothing; delete+add is a change.
 */
export function mergeChange(prev: FileChange | 'none', next: FileChange): FileChange | 'none' {
  if (prev === 'none') return next;
  if (prev === 'add') return next === 'delete' ? 'none' : 'add';
  if (prev === 'delete') return next === 'add' || next === 'change' ? 'change' : 'delete';
  return next;
}

/**
 * Watches a directory tree that may not exist yet. While it is missing, the nearest existing
 * ancestor is watched (not recursively) until the directory appears; then its contents are
 * reported as added and the tree is watched. If it is removed, the wait starts again. This is
 * what seed 003 describes and what its Rust original did not do (it never re-watched).
 */
export class DirWatcher {
  private watcher: FSWatcher | null = null;
  private closed = false;
  private readonly pending = new Map<string, { kind: FileChange | 'none'; timer: NodeJS.Timeout }>();
  private readyResolve: (() => void) | null = null;
  /** Resolves once the first watcher (of the tree or of an ancestor) is in place. */
  readonly ready: Promise<void>;
  /** 'tree' while the directory exists and is watched, 'waiting' while an ancestor is. */
  mode: 'tree' | 'waiting' | 'closed' = 'waiting';

  constructor(
    readonly dir: string,
    private readonly opts: DirWatcherOptions,
  ) {
    this.dir = resolve(dir);
    this.ready = new Promise((r) => (this.readyResolve = r));
  }

  start(): Promise<void> {
    void this.arm(false);
    return this.ready;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.mode = 'closed';
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    const w = this.watcher;
    this.watcher = null;
    await w?.close();
    this.readyResolve?.();
  }

  private markReady(): void {
    this.readyResolve?.();
    this.readyResolve = null;
  }

  private async replace(next: FSWatcher | null): Promise<void> {
    const old = this.watcher;
    this.watcher = next;
    await old?.close();
  }

  /** Watches the tree if it exists, else the nearest ancestor that does. */
  private async arm(appeared: boolean): Promise<void> {
    if (this.closed) return;
    try {
      if (isDir(this.dir)) await this.watchTree(appeared);
      else await this.waitForDir();
    } catch (err) {
      this.opts.onError?.(err);
      this.markReady();
    }
  }

  /**
   * Links are not followed: one to a directory outside would have the watcher report (and
   * watch) what is outside the tree. The tree's own real path is watched, so a tree that is
   * itself a link (a moved ~/.claude) is watched where it is, and reported under `dir`.
   */
  private async watchTree(appeared: boolean): Promise<void> {
    this.mode = 'tree';
    const real = realpathSync(this.dir);
    const asDir = (p: string) => join(this.dir, relative(real, resolve(p)));
    const w = watch(real, {
      depth: this.opts.depth,
      followSymlinks: false,
      // A directory that has just appeared may already hold files: they are news to a reader.
      ignoreInitial: !appeared,
      ignored: (path, stats) => resolve(path) !== real && stats?.isFile() === true && !this.opts.accept(asDir(path)),
    });
    await this.replace(w);
    w.on('add', (p) => this.report('add', asDir(p)));
    w.on('change', (p) => this.report('change', asDir(p)));
    w.on('unlink', (p) => this.report('delete', asDir(p)));
    w.on('unlinkDir', (p) => {
      if (resolve(p) === real) void this.arm(false);
    });
    w.on('error', (err) => this.opts.onError?.(err));
    await new Promise<void>((r) => w.once('ready', () => r()));
    this.markReady();
    // Removed while the watcher was starting: chokidar would not tell us.
    if (!isDir(this.dir) && this.watcher === w) void this.arm(false);
  }

  private async waitForDir(): Promise<void> {
    this.mode = 'waiting';
    let ancestor = dirname(this.dir);
    while (!isDir(ancestor) && dirname(ancestor) !== ancestor) ancestor = dirname(ancestor);
    const w = watch(ancestor, { depth: 0, ignoreInitial: true, followSymlinks: false, ignored: (path) => path !== ancestor && !this.dir.startsWith(resolve(path)) });
    await this.replace(w);
    // The directory, or a missing ancestor of it, now exists: look again from the top. Links
    // are not followed, so one that appears (to a directory) is reported as an `add`.
    const appeared = () => {
      if (this.watcher === w) void this.arm(isDir(this.dir));
    };
    w.on('addDir', appeared);
    w.on('add', appeared);
    w.on('error', (err) => this.opts.onError?.(err));
    await new Promise<void>((r) => w.once('ready', () => r()));
    this.markReady();
    // Created between the check and the watcher's start.
    if (existsSync(this.dir) && this.watcher === w) void this.arm(true);
  }

  private report(kind: FileChange, path: string): void {
    if (this.closed || !this.opts.accept(path)) return;
    const prev = this.pending.get(path);
    if (prev) clearTimeout(prev.timer);
    const merged = mergeChange(prev?.kind ?? 'none', kind);
    const timer = setTimeout(() => {
      this.pending.delete(path);
      if (merged !== 'none' && !this.closed) this.opts.onChange(merged, path);
    }, this.opts.debounceMs ?? 100);
    this.pending.set(path, { kind: merged, timer });
  }
}
