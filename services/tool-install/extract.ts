import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { isAbsolute, join, posix, relative, resolve, dirname } from 'node:path';
import { list, extract, type ReadEntry } from 'tar';
import { ToolError } from './errors.js';

export interface ExtractLimits {
  /** Sum of the entries' sizes once unpacked. */
  maxBytes: number;
  maxEntries: number;
  maxDepth: number;
}

export const DEFAULT_EXTRACT_LIMITS: ExtractLimits = { maxBytes: 512 * 1024 * 1024, maxEntries: 20_000, maxDepth: 64 };

const REGULAR = new Set(['File', 'OldFile', 'ContiguousFile']);

function fail(archive: string, entry: string, why: string): never {
  throw new ToolError(`refusing to unpack ${archive}: entry "${entry}" ${why}; nothing was installed`, 'extract');
}

/** Lexical escape check on a path relative to the bundle root ("a/../.." escapes, "a/./b" does not). */
function escapes(rel: string): boolean {
  const n = posix.normalize(rel);
  return n === '..' || n.startsWith('../') || posix.isAbsolute(n);
}

function checkEntry(archive: string, e: ReadEntry, limits: ExtractLimits): void {
  const p = e.path;
  if (!p) fail(archive, p, 'has an empty name');
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p) || p.startsWith('\\')) fail(archive, p, 'has an absolute path');
  if (p.split(/[\\/]+/).includes('..')) fail(archive, p, 'contains ".." (it would write outside the install directory)');
  if (p.split('/').filter(Boolean).length > limits.maxDepth) fail(archive, p, `is nested deeper than ${limits.maxDepth} directories`);
  if (e.type === 'Directory' || REGULAR.has(e.type)) return;
  if (e.type === 'SymbolicLink') {
    const target = e.linkpath ?? '';
    if (!target || posix.isAbsolute(target) || escapes(posix.join(posix.dirname(p), target))) fail(archive, p, `is a symbolic link to "${target}", outside the bundle`);
    return;
  }
  if (e.type === 'Link') {
    const target = e.linkpath ?? '';
    if (!target || posix.isAbsolute(target) || escapes(target)) fail(archive, p, `is a hard link to "${target}", outside the bundle`);
    return;
  }
  fail(archive, p, `is a ${e.type} (only files, directories and links inside the bundle are allowed)`);
}

/**
 * Reads the whole archive (with the same parser that will unpack it, so there is no parser
 * differential) and refuses it before anything is written if any entry is hostile: an absolute
 * path, "..", a link out of the bundle, a device or FIFO, too deep, too many, or too big.
 */
export async function inspectArchive(file: string, limits: ExtractLimits = DEFAULT_EXTRACT_LIMITS): Promise<{ entries: number; bytes: number }> {
  let entries = 0;
  let bytes = 0;
  let problem: unknown = null;
  try {
    await list({
      file,
      strict: true,
      onReadEntry: (e) => {
        if (problem) return;
        try {
          entries += 1;
          bytes += e.size ?? 0;
          if (entries > limits.maxEntries) throw new ToolError(`refusing to unpack ${file}: more than ${limits.maxEntries} entries; nothing was installed`, 'extract');
          if (bytes > limits.maxBytes) {
            throw new ToolError(`refusing to unpack ${file}: it unpacks to more than ${limits.maxBytes} bytes (the size limit, FLOW_CLI_MAX_UNPACKED_BYTES); nothing was installed`, 'extract');
          }
          checkEntry(file, e, limits);
        } catch (err) {
          problem = err;
        }
      },
    });
  } catch (err) {
    if (!problem) throw new ToolError(`${file} is not a readable tar archive (${(err as Error).message}); nothing was installed`, 'extract');
  }
  if (problem) throw problem;
  if (entries === 0) throw new ToolError(`${file} is an empty archive; nothing was installed`, 'extract');
  return { entries, bytes };
}

/** Every symlink under `root` must resolve inside it (a second line behind inspectArchive). */
function assertLinksInside(root: string): void {
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    for (const n of readdirSync(dir)) {
      const abs = join(dir, n);
      const st = lstatSync(abs);
      if (st.isSymbolicLink()) {
        const target = resolve(dirname(abs), readlinkSync(abs));
        const rel = relative(root, target);
        if (rel.startsWith('..') || isAbsolute(rel)) throw new ToolError(`refusing ${abs}: a link to ${target}, outside the bundle`, 'extract');
      } else if (st.isDirectory()) stack.push(abs);
      else if (!st.isFile()) throw new ToolError(`refusing ${abs}: not a file or directory`, 'extract');
    }
  }
}

/** Unpacks an inspected archive into `dest` (an empty directory on the same file system as its final place). */
export async function extractArchive(file: string, dest: string, limits: ExtractLimits = DEFAULT_EXTRACT_LIMITS): Promise<void> {
  try {
    await extract({
      file,
      cwd: dest,
      strict: true,
      preservePaths: false,
      preserveOwner: false,
      maxDepth: limits.maxDepth,
      filter: (_p, e) => {
        const t = (e as ReadEntry).type;
        return t === 'Directory' || t === 'SymbolicLink' || t === 'Link' || REGULAR.has(t);
      },
    });
  } catch (err) {
    throw new ToolError(`unpacking ${file} failed: ${(err as Error).message}; nothing was installed`, 'extract');
  }
  assertLinksInside(dest);
}
