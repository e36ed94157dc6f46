import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `$FLOW_HOME/logs/<name>.log`: every line a backend printed (and Flow's notes about it), so its
 * history outlives the bounded table. Rotated by size like PM2's logrotate: past `maxBytes` the
 * file becomes `<name>.log.1`, that one `.2`, ... and the oldest of `files` is dropped.
 *
 * What is refused rather than followed: a name that is not a plain file name, a logs directory
 * that is a symlink (or not a directory), a log file that is a symlink (O_NOFOLLOW). Someone else
 * rotating or removing the file (logrotate, a second Flow on the same home) is noticed at the
 * next write by comparing the open file with the path, and the path is opened again.
 */
export interface LogFileOptions {
  dir: string;
  /** Size past which a file is rotated (default 10 MiB). */
  maxBytes?: number;
  /** Files kept per backend, the current one included (default 3). */
  files?: number;
  /** A problem writing (reported once per backend and kind, never thrown at the child's output). */
  onError?: (message: string) => void;
}

export interface LogFileLine {
  at: string;
  fd: string;
  line: string;
  truncated?: boolean;
}

// The backend name rule (actors/kind.ts): no separator, no dot, no way out of the directory.
const FILE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

interface OpenLog {
  fd: number;
  size: number;
  ino: number;
}

export class BackendLogFiles {
  private readonly open = new Map<string, OpenLog>();
  private readonly reported = new Set<string>();
  private dirChecked = false;
  readonly maxBytes: number;
  readonly files: number;

  constructor(private readonly opts: LogFileOptions) {
    this.maxBytes = opts.maxBytes ?? 10 * 1024 * 1024;
    this.files = opts.files ?? 3;
  }

  /** The current file of a backend (for messages and tests); throws on a name that is no file name. */
  pathOf(name: string): string {
    if (!FILE_NAME.test(name)) throw new Error(`${JSON.stringify(name)} cannot name a log file (1-63 lower-case letters, digits, "-" or "_")`);
    return join(this.opts.dir, `${name}.log`);
  }

  write(name: string, lines: readonly LogFileLine[]): void {
    if (lines.length === 0) return;
    try {
      const text = lines.map((l) => `${l.at} ${l.fd} ${l.line}${l.truncated ? ' … [line cut]' : ''}\n`).join('');
      const bytes = Buffer.from(text, 'utf8');
      let log = this.current(name);
      if (log.size > 0 && log.size + bytes.length > this.maxBytes) log = this.rotate(name);
      writeSync(log.fd, bytes);
      log.size += bytes.length;
    } catch (err) {
      this.report(name, err);
    }
  }

  close(): void {
    for (const log of this.open.values()) closeSync(log.fd);
    this.open.clear();
  }

  /** The open file for `name`, opened again if the path no longer is that file. */
  private current(name: string): OpenLog {
    const path = this.pathOf(name);
    const log = this.open.get(name);
    if (log) {
      let ino: number | null = null;
      try {
        ino = lstatSync(path).ino;
      } catch {
        ino = null;
      }
      if (ino === log.ino) {
        // Another writer may have appended: the file's size is the truth.
        log.size = fstatSync(log.fd).size;
        return log;
      }
      closeSync(log.fd);
      this.open.delete(name);
    }
    this.checkDir();
    const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      throw new Error(`${path} is not a regular file`);
    }
    const opened = { fd, size: st.size, ino: st.ino };
    this.open.set(name, opened);
    return opened;
  }

  private rotate(name: string): OpenLog {
    const path = this.pathOf(name);
    const log = this.open.get(name);
    if (log) closeSync(log.fd);
    this.open.delete(name);
    // rename() replaces its target: .(n-1) → .n drops the oldest. A file already moved by a
    // concurrent rotation is simply not there (ENOENT), which is fine.
    const tolerate = (fn: () => void) => {
      try {
        fn();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    };
    if (this.files <= 1) tolerate(() => unlinkSync(path));
    else {
      for (let i = this.files - 1; i >= 1; i--) {
        const from = i === 1 ? path : `${path}.${i - 1}`;
        tolerate(() => renameSync(from, `${path}.${i}`));
      }
    }
    return this.current(name);
  }

  /** At every open, not once: a directory swapped for a link later is refused too. */
  private checkDir(): void {
    if (!this.dirChecked) mkdirSync(this.opts.dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(this.opts.dir);
    if (st.isSymbolicLink()) throw new Error(`${this.opts.dir} is a symbolic link; Flow writes backend logs only into a real directory (remove the link)`);
    if (!st.isDirectory()) throw new Error(`${this.opts.dir} is not a directory`);
    this.dirChecked = true;
  }

  private report(name: string, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as NodeJS.ErrnoException).code;
    const text = code === 'ELOOP' ? `${join(this.opts.dir, `${name}.log`)} is a symbolic link; not following it (remove it and Flow writes a new file)` : message;
    const key = `${name}\0${code ?? message}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.opts.onError?.(`backend log file of ${name}: ${text}`);
  }
}
