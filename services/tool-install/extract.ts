import { chmodSync, closeSync, createReadStream, createWriteStream, linkSync, mkdirSync, openSync, readSync, symlinkSync, type WriteStream } from 'node:fs';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Header, Parser, type ReadEntry } from 'tar';
import { ToolError } from './errors.js';

export interface ExtractLimits {
  /** Sum of the entries' sizes once unpacked (FLOW_CLI_MAX_UNPACKED_BYTES). */
  maxBytes: number;
  /** One entry's size (FLOW_CLI_MAX_ENTRY_BYTES). */
  maxEntryBytes: number;
  maxEntries: number;
  maxDepth: number;
  /** An entry's path, in bytes. */
  maxPathLength: number;
}

export const DEFAULT_EXTRACT_LIMITS: ExtractLimits = {
  maxBytes: 512 * 1024 * 1024,
  maxEntryBytes: 256 * 1024 * 1024,
  maxEntries: 20_000,
  maxDepth: 64,
  maxPathLength: 1024,
};

/** Tar writers pad the end of an archive to a record size (10 KiB by default); much more is not padding. */
const MAX_TRAILING_BYTES = 1024 * 1024;
/** A pax header holds a long path or link target; nothing Flow accepts needs more. */
const MAX_META_BYTES = 64 * 1024;
/** Symbolic links followed while resolving one link, as Linux's ELOOP limit. */
const MAX_LINK_HOPS = 40;

const REGULAR = new Set(['File', 'OldFile', 'ContiguousFile']);

/** Signatures of what a bundle may be instead of a tar: each gets its name in the refusal. */
const SIGNATURES: { bytes: number[]; what: string }[] = [
  { bytes: [0x28, 0xb5, 0x2f, 0xfd], what: 'is compressed with zstd' },
  { bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], what: 'is compressed with xz' },
  { bytes: [0x42, 0x5a, 0x68], what: 'is compressed with bzip2' },
  { bytes: [0x04, 0x22, 0x4d, 0x18], what: 'is compressed with lz4' },
  { bytes: [0x4c, 0x5a, 0x49, 0x50], what: 'is compressed with lzip' },
  { bytes: [0x1f, 0x9d], what: 'is compressed with compress (.Z)' },
  { bytes: [0x50, 0x4b, 0x03, 0x04], what: 'is a zip archive' },
  { bytes: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], what: 'is a 7z archive' },
];
const GZIP = [0x1f, 0x8b];
const ACCEPTED = 'Flow accepts tar and tar.gz (gzip) bundles: republish it as a .tar.gz (f catalog publish writes one)';

function startsWith(buf: Buffer, sig: readonly number[]): boolean {
  return buf.length >= sig.length && sig.every((b, i) => buf[i] === b);
}

/** A 512-byte block that is a tar header (checksum right, not the zero block that ends an archive). */
function isTarHeader(block: Buffer): boolean {
  if (block.length < 512) return false;
  try {
    const h = new Header(block.subarray(0, 512));
    return h.cksumValid && !h.nullBlock;
  } catch {
    return false;
  }
}

/** What the bundle is, from its first bytes: never from its name, never guessed by the parser. */
function detectCompression(file: string, label: string): 'none' | 'gzip' {
  const head = Buffer.alloc(512);
  const fd = openSync(file, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
  const buf = head.subarray(0, n);
  if (startsWith(buf, GZIP)) return 'gzip';
  const known = SIGNATURES.find((s) => startsWith(buf, s.bytes));
  if (known) throw new ToolError(`the bundle at ${label} ${known.what}; ${ACCEPTED}; nothing was installed`, 'extract');
  if (isTarHeader(buf)) return 'none';
  if (n === 512 && buf.every((b) => b === 0)) throw new ToolError(`the bundle at ${label} is an empty tar archive; nothing was installed`, 'extract');
  if (n === 0) throw new ToolError(`the bundle at ${label} is empty; nothing was installed`, 'extract');
  throw new ToolError(`the bundle at ${label} is not a tar archive, nor gzip-compressed (brotli and other compressions are not accepted); ${ACCEPTED}; nothing was installed`, 'extract');
}

function isControl(code: number): boolean {
  return code < 0x20 || code === 0x7f;
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (isControl(s.charCodeAt(i))) return true;
  return false;
}

/** A name as it can be shown on one line: control characters escaped, long names cut. */
function shown(p: string): string {
  let s = '';
  for (const ch of p) s += isControl(ch.charCodeAt(0)) ? `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}` : ch;
  return s.length > 200 ? `${s.slice(0, 60)}…` : s;
}

type Node = { kind: 'dir' } | { kind: 'file' } | { kind: 'link'; target: string; entry: string };

/**
 * Unpacks one archive into an empty directory in a single streaming pass. Everything a hostile
 * publisher could try is refused at the first entry that tries it, before its bytes are written:
 * absolute paths, "..", names with control characters, over-long or over-deep paths, devices and
 * FIFOs, too many entries, too many bytes (counted as they are decompressed, so memory stays
 * bounded whatever the archive holds), data after the end of the tar. Symbolic links are created
 * last, once the whole archive is known, and only if each one, resolved for real through every
 * other link in the archive, stays inside: a later link cannot change where an earlier one leads,
 * and no entry is ever written through a link. Hard links may only name a file earlier in the
 * archive. Only the rwx bits of a mode survive, without group/world write.
 */
class Unpacker {
  readonly nodes = new Map<string, Node>([['', { kind: 'dir' }]]);
  readonly symlinks: { rel: string; entry: string; target: string }[] = [];
  readonly hardlinks: { rel: string; target: string }[] = [];
  readonly writes: Promise<void>[] = [];
  readonly outs: WriteStream[] = [];
  readonly parser: Parser;
  entries = 0;
  bytes = 0;
  /** Decompressed bytes handed to the parser, and after the end of the tar. */
  fed = 0;
  trailing = 0;
  eof = false;
  problem: unknown = null;
  private head: Buffer | null = Buffer.alloc(0);
  private wake: (() => void) | null = null;

  constructor(
    readonly dest: string,
    readonly limits: ExtractLimits,
    readonly label: string,
  ) {
    // zstd/brotli off: the parser must never guess a compression (on Node 20 a guessed zstd throws
    // out of an event handler, past every try/catch). The first block is checked before it is fed.
    this.parser = new Parser({ strict: true, zstd: false, brotli: false, maxMetaEntrySize: MAX_META_BYTES });
    this.parser.on('entry', (e: ReadEntry) => this.onEntry(e));
    this.parser.on('ignoredEntry', (e: ReadEntry) => {
      e.resume();
      this.fail(this.entryError(e.path, e.meta ? `has a metadata header of ${e.size} bytes (over ${MAX_META_BYTES})` : `is of a type Flow does not unpack (${e.type})`));
    });
    this.parser.on('eof', () => (this.eof = true));
    this.parser.on('error', (err: Error) => this.fail(new ToolError(`${this.label} is not a valid tar archive (${err.message}); nothing was installed`, 'extract')));
  }

  private entryError(path: string, why: string): ToolError {
    return new ToolError(`refusing to unpack ${this.label}: entry "${shown(path)}" ${why}; nothing was installed`, 'extract');
  }

  fail(err: unknown): void {
    this.problem ??= err;
    this.wake?.();
  }

  private check(): void {
    if (this.problem) throw this.problem;
  }

  /** Caps the decompressed stream itself: headers and metadata are bounded by the entry limits. */
  private get maxTarBytes(): number {
    return this.limits.maxBytes + (this.limits.maxEntries + 8) * 1536 + MAX_TRAILING_BYTES;
  }

  async write(chunk: Buffer): Promise<void> {
    this.check();
    if (this.eof) {
      this.trailing += chunk.length;
      if (this.trailing > MAX_TRAILING_BYTES) {
        throw new ToolError(`refusing to unpack ${this.label}: it has more than ${MAX_TRAILING_BYTES} bytes after the end of the tar archive (a decompression bomb?); nothing was installed`, 'extract');
      }
      return;
    }
    this.fed += chunk.length;
    if (this.fed > this.maxTarBytes) {
      throw new ToolError(`refusing to unpack ${this.label}: it decompresses to more than ${this.maxTarBytes} bytes, more than entries within the limits can hold (a decompression bomb?); nothing was installed`, 'extract');
    }
    if (this.head) {
      // The first header decides how the parser reads the stream: check it before it sees it.
      this.head = Buffer.concat([this.head, chunk]);
      if (this.head.length < 512) return;
      chunk = this.head;
      this.head = null;
      if (chunk.subarray(0, 512).every((b) => b === 0)) throw new ToolError(`the bundle at ${this.label} is an empty tar archive; nothing was installed`, 'extract');
      if (!isTarHeader(chunk)) {
        throw new ToolError(`the bundle at ${this.label} is gzip-compressed, but what it holds is not a tar archive; ${ACCEPTED}; nothing was installed`, 'extract');
      }
      // The parser sniffs the first bytes for gzip again: a name starting with them is never fed to it.
      const name = chunk.subarray(0, 100);
      const raw = name.subarray(0, name.includes(0) ? name.indexOf(0) : 100);
      if (raw.some(isControl)) throw this.entryError(raw.toString('utf8'), 'has control characters in its name');
    }
    if (!this.parser.write(chunk)) await this.drained();
    this.check();
  }

  private drained(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.parser.off('drain', done);
        this.wake = null;
        resolve();
      };
      this.wake = done;
      this.parser.once('drain', done);
    });
  }

  async end(): Promise<void> {
    this.check();
    if (this.head) {
      if (this.head.length === 0) throw new ToolError(`the bundle at ${this.label} is empty; nothing was installed`, 'extract');
      throw new ToolError(`the bundle at ${this.label} is not a tar archive (${this.head.length} bytes, shorter than one tar header); nothing was installed`, 'extract');
    }
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      this.parser.once('end', resolve);
      this.parser.end();
    });
    this.check();
    await Promise.all(this.writes);
    this.check();
    if (this.entries === 0) throw new ToolError(`${this.label} is an empty archive; nothing was installed`, 'extract');
    // Hard links first: their targets are plain files under plain directories (no link exists yet).
    for (const h of this.hardlinks) linkSync(join(this.dest, h.target), join(this.dest, h.rel));
    for (const s of this.symlinks) this.assertInside(s);
    for (const s of this.symlinks) symlinkSync(s.target, join(this.dest, s.rel));
  }

  /** After a refusal: no file stays open in the work directory that is about to be removed. */
  close(): void {
    for (const out of this.outs) if (!out.closed) out.destroy();
  }

  /** Where a link really leads, through every link of the archive; null when it leaves the root. */
  private resolve(dir: string[], target: string, hops: { n: number }): string[] | null {
    let at = [...dir];
    for (const part of target.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (at.length === 0) return null;
        at.pop();
        continue;
      }
      const node = this.nodes.get([...at, part].join('/'));
      if (node?.kind === 'link') {
        if (++hops.n > MAX_LINK_HOPS) throw new Error('loop');
        const inner = this.resolve(at, node.target, hops);
        if (!inner) return null;
        at = inner;
      } else {
        // A plain name (a directory, a file, or nothing yet): the kernel can only go down into it.
        at.push(part);
      }
    }
    return at;
  }

  private assertInside(s: { rel: string; entry: string; target: string }): void {
    let inside: string[] | null;
    try {
      inside = this.resolve(s.rel.split('/').slice(0, -1), s.target, { n: 0 });
    } catch {
      throw this.entryError(s.entry, `is a symbolic link to "${shown(s.target)}" that goes round a loop of links`);
    }
    if (!inside) throw this.entryError(s.entry, `is a symbolic link to "${shown(s.target)}", which resolves outside the bundle`);
  }

  private onEntry(e: ReadEntry): void {
    if (this.problem) {
      e.resume();
      return;
    }
    try {
      this.take(e);
    } catch (err) {
      e.resume();
      this.fail(err);
    }
  }

  /** The entry's path relative to the root ('' for the root itself), or a refusal. */
  private checkPath(p: string): string {
    if (!p) throw this.entryError(p, 'has an empty name');
    if (hasControl(p)) throw this.entryError(p, 'has control characters in its name');
    const len = Buffer.byteLength(p);
    if (len > this.limits.maxPathLength) throw this.entryError(p, `is ${len} bytes long, over the path limit of ${this.limits.maxPathLength} bytes`);
    if (p.startsWith('/') || /^[A-Za-z]:/.test(p) || p.startsWith('\\')) throw this.entryError(p, 'has an absolute path');
    if (p.split(/[\\/]+/).includes('..')) throw this.entryError(p, 'contains ".." (it would write outside the install directory)');
    const rel = posix.normalize(p).replace(/\/+$/, '');
    if (rel === '.' || rel === '') return '';
    if (rel.split('/').length > this.limits.maxDepth) throw this.entryError(p, `is nested deeper than ${this.limits.maxDepth} directories`);
    return rel;
  }

  /** Creates the directories above `rel` that the archive did not list; never through a link or a file. */
  private parents(rel: string, entry: string): void {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      const node = this.nodes.get(p);
      if (node?.kind === 'link') throw this.entryError(entry, `is written through the symbolic link "${shown(p)}"`);
      if (node?.kind === 'file') throw this.entryError(entry, `is inside "${shown(p)}", which the archive made a file`);
      if (!node) {
        mkdirSync(join(this.dest, p), { mode: 0o755 });
        this.nodes.set(p, { kind: 'dir' });
      }
    }
  }

  private take(e: ReadEntry): void {
    this.entries += 1;
    if (this.entries > this.limits.maxEntries) {
      throw new ToolError(`refusing to unpack ${this.label}: more than ${this.limits.maxEntries} entries (FLOW_CLI_MAX_ENTRIES); nothing was installed`, 'extract');
    }
    const size = e.size ?? 0;
    this.bytes += size;
    if (this.bytes > this.limits.maxBytes) {
      throw new ToolError(`refusing to unpack ${this.label}: it unpacks to more than ${this.limits.maxBytes} bytes (the size limit, FLOW_CLI_MAX_UNPACKED_BYTES); nothing was installed`, 'extract');
    }
    if (size > this.limits.maxEntryBytes) throw this.entryError(e.path, `is ${size} bytes, over the limit for one file of ${this.limits.maxEntryBytes} bytes (FLOW_CLI_MAX_ENTRY_BYTES)`);
    const rel = this.checkPath(e.path);
    const existing = this.nodes.get(rel);
    const mode = (e.mode ?? 0o644) & 0o755;

    if (e.type === 'Directory') {
      if (existing && existing.kind !== 'dir') throw this.entryError(e.path, `is a directory where the archive already put a ${existing.kind === 'link' ? 'symbolic link' : 'file'}`);
      e.resume();
      if (rel === '') return;
      this.parents(rel, e.path);
      if (!existing) mkdirSync(join(this.dest, rel), { mode: mode | 0o700 });
      chmodSync(join(this.dest, rel), mode | 0o700);
      this.nodes.set(rel, { kind: 'dir' });
      return;
    }
    if (rel === '') throw this.entryError(e.path, 'names the bundle root, but is not a directory');
    if (existing) {
      const what = existing.kind === 'dir' ? 'a directory' : existing.kind === 'link' ? 'a symbolic link' : 'a file';
      throw this.entryError(e.path, `is ${e.type === 'SymbolicLink' ? 'a symbolic link' : e.type === 'Link' ? 'a hard link' : 'a file'} where the archive already put ${what}`);
    }

    if (REGULAR.has(e.type)) {
      this.parents(rel, e.path);
      this.nodes.set(rel, { kind: 'file' });
      // 'wx': a fresh file, never an existing one (nothing on disk is a link while this runs).
      const out = createWriteStream(join(this.dest, rel), { flags: 'wx', mode: mode | 0o600 });
      this.outs.push(out);
      this.writes.push(
        new Promise<void>((resolve) => {
          out.on('close', resolve);
          out.on('error', (err) => {
            this.fail(new ToolError(`unpacking ${this.label} failed at "${shown(e.path)}": ${err.message}; nothing was installed`, 'extract'));
            e.resume();
            resolve();
          });
        }),
      );
      e.pipe(out);
      return;
    }
    if (e.type === 'SymbolicLink') {
      e.resume();
      const target = e.linkpath ?? '';
      if (!target || hasControl(target) || posix.isAbsolute(target) || target.startsWith('\\') || /^[A-Za-z]:/.test(target)) {
        throw this.entryError(e.path, `is a symbolic link to "${shown(target)}", outside the bundle`);
      }
      const lexical = posix.normalize(posix.join(posix.dirname(rel), target));
      if (lexical === '..' || lexical.startsWith('../')) throw this.entryError(e.path, `is a symbolic link to "${shown(target)}", outside the bundle`);
      this.parents(rel, e.path);
      this.nodes.set(rel, { kind: 'link', target, entry: e.path });
      this.symlinks.push({ rel, entry: e.path, target });
      return;
    }
    if (e.type === 'Link') {
      e.resume();
      const target = e.linkpath ?? '';
      const t = target && !posix.isAbsolute(target) && !target.split(/[\\/]+/).includes('..') ? posix.normalize(target).replace(/\/+$/, '') : null;
      // A hard link names an earlier entry by its own path: a file, not a path through a link.
      if (!t || this.nodes.get(t)?.kind !== 'file') throw this.entryError(e.path, `is a hard link to "${shown(target)}", which is not a file earlier in the archive`);
      this.parents(rel, e.path);
      this.nodes.set(rel, { kind: 'file' });
      this.hardlinks.push({ rel, target: t });
      return;
    }
    throw this.entryError(e.path, `is a ${e.type} (only files, directories and links inside the bundle are allowed)`);
  }
}

/**
 * Unpacks `file` (a tar or tar.gz, told from its first bytes) into `dest`, an empty directory, in
 * one streaming pass with bounded memory. `label` names the bundle in errors (its URL).
 */
export async function unpackBundle(file: string, dest: string, limits: ExtractLimits = DEFAULT_EXTRACT_LIMITS, label: string = file): Promise<{ entries: number; bytes: number }> {
  const compression = detectCompression(file, label);
  const source = createReadStream(file, { highWaterMark: 64 * 1024 });
  let plain: Readable = source;
  if (compression === 'gzip') {
    const gunzip = createGunzip({ chunkSize: 64 * 1024 });
    source.on('error', (err) => gunzip.destroy(err));
    plain = source.pipe(gunzip);
  }
  const u = new Unpacker(dest, limits, label);
  try {
    for await (const chunk of plain) await u.write(chunk as Buffer);
    await u.end();
  } catch (err) {
    if (err instanceof ToolError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code?.startsWith('Z_')) throw new ToolError(`the bundle at ${label} is not valid gzip (${(err as Error).message}); nothing was installed`, 'extract');
    throw new ToolError(`unpacking ${label} failed: ${(err as Error).message}; nothing was installed`, 'extract');
  } finally {
    source.destroy();
    plain.destroy();
    u.close();
  }
  return { entries: u.entries, bytes: u.bytes };
}
