import { readdir, realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, sep } from 'node:path';

/**
 * Browsing directories for the dashboard's working-directory picker: only inside the user's
 * home and the configured roots. Every path is resolved with realpath before it is judged, so a
 * symlink that points out of a root is out, and `..` is refused before anything is resolved.
 */
export class DirsError extends Error {
  override readonly name = 'DirsError';
  constructor(
    readonly kind: 'invalid' | 'forbidden' | 'not_found',
    message: string,
  ) {
    super(message);
  }
}

export interface DirEntry {
  name: string;
  path: string;
  hidden: boolean;
}

export interface DirListing {
  /** The directory listed, as realpath resolved it. */
  path: string;
  /** Its parent, when that is still inside a root (null at a root). */
  parent: string | null;
  entries: DirEntry[];
  /** More subdirectories than were listed. */
  truncated: boolean;
}

const MAX_ENTRIES = 1000;

/** The roots as they really are (realpath), dropping any that do not exist. */
export async function resolveRoots(roots: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const r of roots) {
    try {
      const real = await realpath(r);
      if ((await stat(real)).isDirectory() && !out.includes(real)) out.push(real);
    } catch {
      // A configured root that does not exist is simply not offered.
    }
  }
  return out;
}

export function inside(path: string, roots: readonly string[]): boolean {
  return roots.some((r) => path === r || path.startsWith(r.endsWith(sep) ? r : r + sep));
}

/** `~` and `~/x` mean the home directory; anything else must be absolute and free of `..`. */
export function checkRequested(raw: string): string {
  if (raw.includes('\0')) throw new DirsError('invalid', 'path must not contain a NUL byte');
  // The router has already decoded the query once; what is still encoded was encoded twice.
  if (/%(2e|2f|5c|00)/i.test(raw)) throw new DirsError('invalid', `path ${JSON.stringify(raw)} contains an encoded ".", "/" or "\\"; send the plain path`);
  const path = raw === '~' ? homedir() : raw.startsWith('~/') ? join(homedir(), raw.slice(2)) : raw;
  if (!isAbsolute(path)) throw new DirsError('invalid', `path ${JSON.stringify(raw)} is not absolute: start it with / or ~`);
  if (path.split(/[\\/]/).includes('..')) throw new DirsError('invalid', `path ${JSON.stringify(raw)} contains "..": send the directory itself, or its parent's path`);
  return path;
}

async function realDir(path: string, shown: string): Promise<string> {
  let real: string;
  try {
    real = await realpath(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new DirsError('not_found', `there is no directory at ${shown}`);
    if (code === 'EACCES') throw new DirsError('forbidden', `${shown} cannot be read (permission denied)`);
    throw new DirsError('invalid', `${shown} cannot be resolved: ${code ?? (err as Error).message}`);
  }
  return real;
}

/** The subdirectories of `raw`, if it (resolved) lies inside one of `roots` (already resolved). */
export async function listDirs(raw: string, roots: readonly string[]): Promise<DirListing> {
  const requested = checkRequested(raw);
  const outside = `${requested} is outside the directories Flow lets you browse (your home directory and FLOW_DIR_ROOTS)`;
  // Judge the lexical path first, so a path out of the roots is refused whether or not it exists.
  const real = await realDir(requested, requested).catch((err: unknown) => {
    if (err instanceof DirsError && err.kind === 'not_found' && !inside(requested, roots)) throw new DirsError('forbidden', outside);
    throw err;
  });
  if (!inside(real, roots)) throw new DirsError('forbidden', real === requested ? outside : `${requested} leads to ${real}, which is outside the directories Flow lets you browse (your home directory and FLOW_DIR_ROOTS)`);
  if (!(await stat(real)).isDirectory()) throw new DirsError('not_found', `${requested} is a file, not a directory`);
  let dirents;
  try {
    dirents = await readdir(real, { withFileTypes: true });
  } catch (err) {
    throw new DirsError('forbidden', `${real} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const entries: DirEntry[] = [];
  for (const d of dirents) {
    const path = join(real, d.name);
    if (d.isSymbolicLink()) {
      // Offered only when it leads to a directory that is itself inside a root.
      const target = await realpath(path).catch(() => null);
      if (!target || !inside(target, roots) || !(await stat(target).then((s) => s.isDirectory(), () => false))) continue;
    } else if (!d.isDirectory()) continue;
    entries.push({ name: d.name, path, hidden: d.name.startsWith('.') });
  }
  entries.sort((a, b) => Number(a.hidden) - Number(b.hidden) || a.name.localeCompare(b.name));
  const parent = dirname(real);
  return {
    path: real,
    parent: !roots.includes(real) && inside(parent, roots) ? parent : null,
    entries: entries.slice(0, MAX_ENTRIES),
    truncated: entries.length > MAX_ENTRIES,
  };
}

/** Directories that still exist, newest first, without repeats. */
export async function existingDirs(paths: readonly string[], roots: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    if (out.includes(p)) continue;
    const real = await realpath(p).catch(() => null);
    if (real && inside(real, roots) && (await stat(real).then((s) => s.isDirectory(), () => false)) && !out.includes(real)) out.push(real);
  }
  return out;
}
