import { closeSync, constants, existsSync, createReadStream, fstatSync, openSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';

/**
 * Files of a user's own frontend (PUBLIC_DIR), opened so that nothing outside its root is ever
 * read, whatever links it holds and however they change meanwhile. The check is made on what was
 * opened, not on a path before opening it: the file is opened first, then the opened file's own
 * real path (/proc/self/fd on Linux) — or, where there is no /proc, the real path of the name
 * checked to be the very file opened (same device and inode) — must be inside the root. A link
 * swapped between a check and the open cannot slip through, as there is no check before the open.
 */
export interface OpenedFile {
  fd: number;
  stat: Stats;
  /** The path inside the root it was found at (for its media type). */
  path: string;
  /** It is the index.html of the directory `rel` named. */
  index: boolean;
}

/** `rel` split into the names under the root, or null for anything that tries to leave it or names a dotfile. */
export function safeSegments(rel: string): string[] | null {
  if (rel.includes('\0') || rel.includes('\\')) return null;
  const parts = rel.split('/').filter((p) => p !== '');
  // "." and ".." are dot names too: every segment starting with "." is refused (dotfiles are not served).
  if (parts.some((p) => p.startsWith('.'))) return null;
  return parts;
}

function inside(root: string, real: string): boolean {
  const rel = relative(root, real);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

const hasProcFd = existsSync('/proc/self/fd');

/** Where the opened `fd` really is, checked to be inside `root`; false if it is not (or cannot be told). */
export function openedInside(root: string, fd: number, path: string): boolean {
  const st = fstatSync(fd);
  if (hasProcFd) {
    try {
      return inside(root, readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      return false;
    }
  }
  try {
    const real = realpathSync(path);
    const named = statSync(real);
    return inside(root, real) && named.dev === st.dev && named.ino === st.ino;
  } catch {
    return false;
  }
}

/**
 * Opens the file `rel` names under `root` (a real path, resolved once at start), or its
 * index.html when it is a directory. null when it is not there, is not a regular file, or is
 * (through any link) outside the root. The caller closes `fd` (a read stream on it does).
 */
export function openInsideRoot(root: string, rel: string, index = 'index.html'): OpenedFile | null {
  const parts = safeSegments(rel);
  if (!parts) return null;
  let path = join(root, ...parts);
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      // O_NONBLOCK: a FIFO put there must not hang the request; it is refused below as no regular file.
      fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch {
      return null;
    }
    let keep = false;
    try {
      if (!openedInside(root, fd, path)) return null;
      const stat = fstatSync(fd);
      if (stat.isDirectory() && attempt === 0) {
        path = join(path, index);
        continue;
      }
      if (!stat.isFile()) return null;
      keep = true;
      return { fd, stat, path, index: attempt === 1 };
    } finally {
      if (!keep) closeSync(fd);
    }
  }
  return null;
}

/** A read stream of the opened file (closing its fd when done), optionally a byte range. */
export function streamOf(file: OpenedFile, range?: { start: number; end: number }) {
  return createReadStream('', { fd: file.fd, autoClose: true, ...(range ?? {}) });
}
