import { watch, type FSWatcher } from 'chokidar';
import { extname, resolve } from 'node:path';
import type { BackendConfig } from '../../actors/backend-child/index.js';

/**
 * Watches a backend's paths and reports changed files. Bursts within 50 ms are sent as one
 * observation (a save can touch a file several times); the 500 ms debounce itself is the
 * machine's, so it is in the log and replays.
 */
export class BackendWatcher {
  private readonly watcher: FSWatcher;
  private readonly key: string;
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(config: BackendConfig, onChange: (paths: string[]) => void) {
    this.key = BackendWatcher.keyOf(config);
    const exts = new Set(config.watchExtensions);
    const paths = config.watch.map((p) => resolve(config.cwd, p));
    this.watcher = watch(paths, {
      ignoreInitial: true,
      ignored: (p: string) => /(^|[/\\])(node_modules|\.git)([/\\]|$)/.test(p),
    });
    this.watcher.on('all', (_event, path) => {
      if (this.closed || !exts.has(extname(path))) return;
      this.pending.add(path);
      this.timer ??= setTimeout(() => {
        this.timer = null;
        const changed = [...this.pending].sort();
        this.pending.clear();
        if (!this.closed && changed.length) onChange(changed);
      }, 50);
    });
    this.watcher.on('error', (err) => process.emitWarning(`watching ${paths.join(', ')} failed: ${String(err)}`));
  }

  static keyOf(config: BackendConfig): string {
    return JSON.stringify([config.cwd, config.watch, config.watchExtensions]);
  }

  matches(config: BackendConfig): boolean {
    return this.key === BackendWatcher.keyOf(config);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.watcher.close();
  }
}
